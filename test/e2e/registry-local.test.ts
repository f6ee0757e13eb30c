import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { registryFlows } from '../fixtures/registries/harness';

/**
 * Issue 8's flows over the embedded `local` registry, from packed tarballs. It has no server: its
 * "server" is the shared folder. Down = the registry's root folder replaced by a plain file (every
 * read and write fails, as with a server that does not answer); up = the folder put back with its
 * entries, as a server restarted on its data. The lease ttl is raised so the outage is shorter
 * than a lease: this checks that calls survive the outage, not lease expiry.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-registry-e2e-local-'));
const root = path.join(dir, 'plexus');
const away = path.join(dir, 'plexus.away');

registryFlows({
  name: 'local',
  registry: () => ({ type: 'local', dir, ttl: 10_000 }),
  async up() {
    if (fs.existsSync(away)) {
      fs.rmSync(root, { force: true });
      fs.renameSync(away, root);
    }
  },
  async down() {
    if (!fs.existsSync(root) || fs.existsSync(away)) return;
    fs.renameSync(root, away);
    fs.writeFileSync(root, 'not a folder: the registry is down\n');
  },
  pids: () => [],
  killedGoneWithinMs: 10_000,
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

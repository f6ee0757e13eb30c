import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { registryFlows } from '../fixtures/registries/harness';

/** Issue 8's flows over a real etcd (restarted on its own data folder), from packed tarballs. */
interface Server {
  address: string;
  pid: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}
const etcd = require('../../scripts/servers/etcd.js') as {
  ensureInstalled(): void;
  start(options: { port: number; dir: string }): Promise<Server>;
};

/** Client port; the peer port is PORT + 5 (23835). */
const PORT = 23830;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-registry-e2e-etcd-'));
let server: Server | undefined;

registryFlows({
  name: 'etcd',
  // A short lease, so a SIGKILLed provider's entries go within seconds.
  registry: () => ({ type: 'etcd', address: `127.0.0.1:${PORT}`, ttl: 3000 }),
  async up() {
    etcd.ensureInstalled();
    server = await etcd.start({ port: PORT, dir });
  },
  async down() {
    const s = server;
    server = undefined;
    await s?.stop();
  },
  pids: () => (server ? [server.pid] : []),
  killedGoneWithinMs: 15_000,
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

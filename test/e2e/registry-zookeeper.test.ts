import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { registryFlows } from '../fixtures/registries/harness';

/** Issue 8's flows over a real ZooKeeper (restarted on its own data folder), from packed tarballs. */
interface Server {
  address: string;
  pid: number;
  stop(options?: { signal?: NodeJS.Signals }): Promise<void>;
}
const zookeeper = require('../../scripts/servers/zookeeper.js') as {
  ensureInstalled(): void;
  start(options: { port: number; dir: string }): Promise<Server>;
};

const PORT = 21830;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-registry-e2e-zk-'));
let server: Server | undefined;

registryFlows({
  name: 'zookeeper',
  // A short session, so a SIGKILLed provider's ephemeral entry goes within seconds.
  registry: () => ({ type: 'zookeeper', address: `127.0.0.1:${PORT}`, sessionTimeout: 4000 }),
  async up() {
    zookeeper.ensureInstalled();
    server = await zookeeper.start({ port: PORT, dir });
  },
  async down() {
    const s = server;
    server = undefined;
    await s?.stop();
  },
  pids: () => (server ? [server.pid] : []),
  killedGoneWithinMs: 20_000,
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { registryFlows } from '../fixtures/registries/harness';

/**
 * Issue 8's flows over a real Redis, from packed tarballs. The server keeps nothing on disk, so a
 * restart comes back empty: the providers must write themselves back.
 */
interface Server {
  address: string;
  pid: number;
  stop(options?: { signal?: NodeJS.Signals }): Promise<void>;
}
const redis = require('../../scripts/servers/redis.js') as {
  ensureInstalled(): void;
  start(options: { port: number; dir: string }): Promise<Server>;
};

const PORT = 26390;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-registry-e2e-redis-'));
let server: Server | undefined;

registryFlows({
  name: 'redis',
  // A short expiry, so a SIGKILLed provider's entries go within seconds.
  registry: () => ({ type: 'redis', address: `127.0.0.1:${PORT}`, expirePeriod: 3000 }),
  async up() {
    redis.ensureInstalled();
    server = await redis.start({ port: PORT, dir });
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

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

/** The shape of scripts/servers/redis.js (CommonJS, no types of its own). */
interface ServerModule {
  ensureInstalled(): void;
  start(options: { port: number; dir: string; password?: string; args?: string[] }): Promise<{
    address: string;
    pid: number;
    logFile: string;
    stop(options?: { signal?: NodeJS.Signals }): Promise<void>;
  }>;
}
const servers = require('../../../../scripts/servers/redis') as ServerModule;

/**
 * Ports of this package's tests (26380–26389 are reserved for them); each test file takes its own.
 * 26388 is never listened on: the "nothing there" address.
 */
export const PORTS = { contract: 26380, behaviour: 26381, auth: 26382, fault: 26383, app: 26384, nothing: 26388 } as const;

/** A real redis-server this test started, with its folder; `restart` keeps the port and folder. */
export interface TestRedis {
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server if running and removes its folder. */
  dispose(): Promise<void>;
}

/** Starts redis-server on 127.0.0.1:`port`; throws (failing the suite loudly) when it cannot. */
export async function startRedis(port: number, extra: { password?: string; args?: string[] } = {}): Promise<TestRedis> {
  servers.ensureInstalled();
  const dir = mkdtempSync(join(tmpdir(), `plexus-redis-${port}-`));
  let server = await servers.start({ port, dir, ...extra });
  const handle: TestRedis = {
    address: server.address,
    port,
    get pid() {
      return server.pid;
    },
    stop: (signal) => server.stop(signal ? { signal } : {}),
    restart: async () => {
      await server.stop();
      server = await servers.start({ port, dir, ...extra });
    },
    dispose: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** A plain client for looking at (or tampering with) what the registry wrote. */
export function rawClient(port: number, options: { db?: number; password?: string } = {}): Redis {
  return new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, commandTimeout: 5000, disconnectTimeout: 100, ...options });
}

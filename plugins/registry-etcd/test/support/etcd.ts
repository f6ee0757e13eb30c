import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '@plexus/kernel/spi';

/** A real etcd started by scripts/servers/etcd.js. */
export interface EtcdServer {
  readonly address: string;
  readonly pid: number;
  readonly dir: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

interface EtcdServers {
  start(options: { port: number; dir: string }): Promise<EtcdServer>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const servers = require('../../../../scripts/servers/etcd.js') as EtcdServers;

/** A fresh temp folder for one server's data and log. */
export function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `plexus-etcd-${name}-`));
}

/**
 * Starts etcd on 127.0.0.1:`port` (this package's ports: 23790–23794, peers at +5) with data in
 * `dir`. Throws — failing the suite loudly — when the server cannot start.
 */
export async function startEtcd(port: number, dir = tempDir(String(port))): Promise<EtcdServer> {
  if (port < 23790 || port > 23794) throw new Error(`port ${port} is outside the etcd tests' range 23790–23794`);
  return servers.start({ port, dir });
}

/** Removes a temp folder made by {@link tempDir}. */
export function removeDir(dir: string | undefined): void {
  if (dir !== undefined && dir.startsWith(os.tmpdir())) fs.rmSync(dir, { recursive: true, force: true });
}

/** A logger that keeps what it was told, for assertions on warnings. */
export class RecordingLogger implements Logger {
  readonly lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  debug(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, fields });
  }
  warnings(containing = ''): string[] {
    return this.lines.filter((l) => l.level === 'warn' && l.message.includes(containing)).map((l) => l.message);
  }
}

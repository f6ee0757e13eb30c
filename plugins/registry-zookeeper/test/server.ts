import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** What scripts/servers/zookeeper.js `start` resolves with. */
export interface ZooKeeperServer {
  address: string;
  pid: number;
  logFile: string;
  stop(options?: { signal?: NodeJS.Signals }): Promise<void>;
}

interface ServerScript {
  ensureInstalled(): void;
  start(options: { port: number; dir: string; tickTime?: number }): Promise<ZooKeeperServer>;
}

// CommonJS without types, shared by every test that needs a real ZooKeeper.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const script = require('../../../scripts/servers/zookeeper.js') as ServerScript;

/**
 * Ports of this package's tests (21810-21819 are ours): one per test file so files could run in
 * parallel, and one where nothing ever listens.
 */
export const PORTS = { contract: 21810, behaviour: 21811, fault: 21812, mute: 21813, nobody: 21819 } as const;

/** A temp folder for a server's data, removed by `removeDir`. */
export function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `plexus-zk-${name}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts a real ZooKeeper on 127.0.0.1:`port` (installing the Debian package if it is missing).
 * Throws with the server's log tail when it cannot: a test that needs the server fails loudly.
 */
export async function startZooKeeper(port: number, dir: string): Promise<ZooKeeperServer> {
  script.ensureInstalled();
  return script.start({ port, dir });
}

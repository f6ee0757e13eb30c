import * as zookeeper from 'node-zookeeper-client';
import { URL, type NotifyListener, type Registry, type RegistryState } from '@plexus/kernel/spi';
import { waitFor } from '@plexus/kernel/testing';

/** Bound of every wait in these tests: a guard against hangs, not a timing assertion. */
export const WAIT = 15_000;

export const until = (predicate: () => boolean, what: string, limit = WAIT) => waitFor(predicate, limit, what, 10);

let serial = 0;
/** An interface name no other test uses. */
export function uniqueInterface(name = 'Greeter'): string {
  serial++;
  return `plexus.zk.${name}${process.pid}x${Date.now().toString(36)}x${serial}`;
}

export function provider(iface: string, n: number, params: Record<string, string> = {}): URL {
  return new URL('plexus', `10.0.1.${n}`, 20880, iface, { application: `app${n}`, side: 'provider', ...params });
}

export function consumer(iface: string, params: Record<string, string> = {}): URL {
  return new URL('consumer', '10.0.1.200', 0, iface, { application: 'client', side: 'consumer', ...params });
}

/** A listener that keeps every list it is given, as sorted URL strings. */
export class Recorder {
  readonly lists: string[][] = [];
  readonly listener: NotifyListener = (urls) => {
    this.lists.push(urls.map((u) => u.toString()).sort());
  };
  get count(): number {
    return this.lists.length;
  }
  sees(urls: readonly URL[]): boolean {
    const last = this.lists[this.lists.length - 1];
    const want = urls.map((u) => u.toString()).sort();
    return last !== undefined && last.length === want.length && last.every((x, i) => x === want[i]);
  }
}

/** Records the states a registry reports. */
export function stateLog(registry: Registry): RegistryState[] {
  const states: RegistryState[] = [];
  registry.onStateChange?.((s) => states.push(s));
  return states;
}

/** A promise-returning view of a raw driver client, to look at and tamper with the server directly. */
export class RawClient {
  private constructor(readonly client: zookeeper.Client) {}

  static async connect(address: string, options: zookeeper.ClientOptions = {}): Promise<RawClient> {
    const client = zookeeper.createClient(address, { sessionTimeout: 4000, ...options });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw client: no connection to ${address}`)), 10_000);
      client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    return new RawClient(client);
  }

  private call<T>(fn: (done: (err: Error | null, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
  }

  children(path: string): Promise<string[]> {
    return this.call((done) => this.client.getChildren(path, undefined, done));
  }

  stat(path: string): Promise<zookeeper.Stat | null> {
    return this.call((done) => this.client.exists(path, done));
  }

  /** Creates `path` and its missing parents; the last node with `mode` (default persistent). */
  async create(path: string, mode: number = zookeeper.CreateMode.PERSISTENT): Promise<void> {
    const parts = path.split('/').slice(1);
    let at = '';
    for (let i = 0; i < parts.length; i++) {
      at += `/${parts[i]}`;
      const last = i === parts.length - 1;
      const node = at;
      await this.call<string>((done) => this.client.create(node, null, last ? mode : zookeeper.CreateMode.PERSISTENT, done)).catch((err: { getCode?: () => number }) => {
        if (err.getCode?.() !== zookeeper.Exception.NODE_EXISTS || last) throw err;
      });
    }
  }

  /** Closes the session (its ephemeral nodes go at once) and waits until the driver let go. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.client.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.close();
    });
  }
}

/** The driver client a registry currently uses (white-box: tests only). */
function clientOf(registry: Registry): zookeeper.Client {
  const client = (registry as unknown as { client?: zookeeper.Client }).client;
  if (!client) throw new Error('the registry has no client yet');
  return client;
}

/** The id of a registry's current ZooKeeper session, as hex. */
export function sessionIdOf(registry: Registry): string {
  return clientOf(registry).getSessionId().toString('hex');
}

/**
 * Expires a registry's session the way ZooKeeper's own tests do: a second client joins the same
 * session (id and password) and closes it; the server drops the session and its ephemeral nodes,
 * and the registry learns on its next reconnect that its session expired. The registry's driver
 * would reconnect at once when the second client takes the session over and could win it back,
 * so its reconnect is held until the session is closed (white-box: the driver's connection
 * manager, node-zookeeper-client 1.1.3).
 */
export async function expireSession(address: string, registry: Registry): Promise<void> {
  const client = clientOf(registry);
  const manager = (client as unknown as { connectionManager: { connect(): void } }).connectionManager;
  const connect = manager.connect;
  let held: (() => void) | undefined;
  manager.connect = () => {
    held = () => connect.call(manager);
  };
  try {
    const thief = await RawClient.connect(address, { sessionId: client.getSessionId(), sessionPassword: client.getSessionPassword() });
    await thief.close();
    await waitFor(() => held !== undefined, 5000, 'the registry to lose its connection to the second client');
  } finally {
    manager.connect = connect;
    held?.();
  }
}

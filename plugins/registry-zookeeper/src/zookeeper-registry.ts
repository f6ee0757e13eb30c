import * as zookeeper from 'node-zookeeper-client';
import {
  REGISTRY_CATEGORIES,
  categoryOf,
  registryLayout,
  subscribedCategories,
  type Logger,
  type NotifyListener,
  type Registry,
  type RegistryState,
  type URL,
} from '@plexus/kernel/spi';
import { ERR_ZOOKEEPER_CLOSED, ERR_ZOOKEEPER_ENTRY_TOO_LONG, ERR_ZOOKEEPER_REQUEST, ERR_ZOOKEEPER_TIMEOUT, ERR_ZOOKEEPER_UNAVAILABLE } from './errors';
import { resolveOptions, type ResolvedOptions, type ZookeeperRegistryOptions } from './options';

const { CreateMode, Event, Exception } = zookeeper;

/** How long a category whose watch could not be re-armed waits before the next try, in ms. */
const STALE_RETRY_MS = 1_000;
/** Distinct entry names remembered for "warn once"; past this the memory starts over. */
const WARNED_LIMIT = 1_024;
/** `services()` checks this many interfaces at a time, so one call never queues thousands of requests. */
const SERVICES_BATCH = 64;
/**
 * Largest frame accepted from the server, in bytes. ZooKeeper's own clients stop at 1 MiB
 * (`jute.maxbuffer`); 4 MiB leaves room for a server configured above that. Without this bound
 * the driver buffers whatever length a frame header announces.
 */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** The driver's connection states we look at (its ConnectionManager.STATES). */
const DRIVER_CLOSED = -2;
const DRIVER_CONNECTING = 1;

/** A ZooKeeper answer a caller expected and handles itself (NO_NODE, NODE_EXISTS...). */
class Miss {
  constructor(readonly code: number) {}
}

/** One `subscribe(url, listener)`: the watches of its categories; delivered at most once per microtask. */
interface Subscription {
  readonly key: string;
  readonly listener: NotifyListener;
  readonly watches: PathWatch[];
  active: boolean;
  scheduled: boolean;
  /** A list reached the listener at least once. */
  delivered: boolean;
}

/**
 * One watched category folder, `/{root}/{interface}/{category}`, shared by every subscription of
 * this instance that reads it: its last decoded entries and the one watcher function the driver
 * knows it by (the driver keeps a watcher once per function, so re-arming never piles them up).
 */
interface PathWatch {
  readonly path: string;
  readonly subscribers: Set<Subscription>;
  readonly watcher: zookeeper.Watcher;
  /** Entry name → URL, for the names that decoded. */
  entries: Map<string, URL>;
  loaded: boolean;
  active: boolean;
  /** The last re-read failed: the watch may not be armed, so it is read again when possible. */
  stale: boolean;
  reading?: Promise<void>;
  again: boolean;
}

/** Someone waiting for a connection. */
interface Waiter {
  resolve(client: zookeeper.Client): void;
  reject(err: unknown): void;
}

/** What the driver hides that shutdown and the stall check need (node-zookeeper-client 1.1.3). */
interface DriverInternals {
  connectionManager?: {
    state: number;
    pendingBuffer?: Buffer | null;
    onSocketData?: (chunk: Buffer) => void;
    onSocketConnected?: () => void;
    socket?: { destroy(): void };
    connectTimeoutHandler?: ReturnType<typeof setTimeout> | null;
    /** Per-server connect timeout: the negotiated (else requested) session timeout / number of servers. */
    connectTimeout?: number;
    on(event: 'state', listener: (state: number) => void): void;
    removeListener(event: 'state', listener: (state: number) => void): void;
  };
}

const fallbackLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => process.stderr.write(`plexus WARN [registry-zookeeper] ${message}\n`),
  error: (message) => process.stderr.write(`plexus ERROR [registry-zookeeper] ${message}\n`),
};

function reason(err: unknown): string {
  const e = err as { getName?: () => string; message?: string };
  return typeof e?.getName === 'function' ? e.getName() : (e?.message ?? String(err));
}

function codeOf(err: unknown): number | undefined {
  const e = err as { getCode?: () => number };
  return typeof e?.getCode === 'function' ? e.getCode() : undefined;
}

/**
 * A {@link Registry} on ZooKeeper, in Dubbo's layout: `/{root}/{interface}/{category}/{url-encoded
 * URL}`. Parent folders are persistent nodes created as needed; provider and consumer entries are
 * ephemeral nodes of this instance's session, so they vanish when the process dies (after
 * `sessionTimeout`) or closes (at once); `routers` and `configurators` entries are persistent.
 * Subscriptions watch the children of their category folders and re-arm the watch on every event;
 * listeners get the full list, in a later microtask, once per change.
 *
 * Connection: one session per instance, opened on first use. Losing the connection within the
 * session reports `disconnected`, getting it back `connected` (the driver restores its watches,
 * and every watched folder is read again in case a change was missed). When the server says the
 * session expired, a new session is opened, every watched folder is read and watched again on it,
 * and `reconnected` is reported: the kernel's registry manager then registers again (the
 * ephemeral entries went with the old session). Operations wait at most `connectTimeout` for a
 * connection and `requestTimeout` for an answer, then reject with a coded error; they never
 * queue up behind an outage to run later.
 *
 * Scope: one instance per application and registry entry; called from the event loop only.
 */
export class ZookeeperRegistry implements Registry {
  private readonly options: ResolvedOptions;
  private readonly logger: Logger;
  private client: zookeeper.Client | undefined;
  private connection: 'idle' | 'connecting' | 'connected' | 'disconnected' = 'idle';
  /** Set while disconnected: opens a new session once the old one must have expired. */
  private lostTimer: NodeJS.Timeout | undefined;
  private everConnected = false;
  /** A new session replaced an expired one and has not connected yet. */
  private renewing = false;
  private reportedDown = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly watches = new Map<string, PathWatch>();
  private readonly stateListeners = new Set<(state: RegistryState) => void>();
  /** Persistent folders known to exist, so registering again costs one request. */
  private readonly knownPaths = new Set<string>();
  private readonly warned = new Set<string>();
  private staleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Per driver client: stops its handshake timer for good, once the client is cut off (see {@link guard}). */
  private readonly handshakes = new WeakMap<zookeeper.Client, () => void>();

  constructor(options: ZookeeperRegistryOptions | Readonly<Record<string, unknown>>, logger?: Logger) {
    this.options = resolveOptions(options as Readonly<Record<string, unknown>>);
    this.logger = logger ?? fallbackLogger;
  }

  /** The address and root in use, for messages and `plexus ls`. */
  get address(): string {
    return this.options.address;
  }

  async register(url: URL): Promise<void> {
    this.ensureOpen('register');
    const category = categoryOf(url);
    const name = registryLayout.encode(url);
    const parent = registryLayout.category(url.path, category, this.options.root);
    if (name.length > this.options.maxEntryLength) throw ERR_ZOOKEEPER_ENTRY_TOO_LONG(parent, name.length, this.options.maxEntryLength);
    const path = `${parent}/${name}`;
    const ephemeral = category === 'providers' || category === 'consumers';
    const mode = ephemeral ? CreateMode.EPHEMERAL : CreateMode.PERSISTENT;
    const create = () => this.request<string>('register', path, (c, done) => c.create(path, null, mode, done), [Exception.NODE_EXISTS, Exception.NO_NODE]);

    await this.ensurePath(parent, 'register');
    let created = await create();
    if (created instanceof Miss && created.code === Exception.NO_NODE) {
      // Someone deleted the folder since we last saw it.
      this.knownPaths.delete(parent);
      await this.ensurePath(parent, 'register');
      created = await create();
    }
    if (!(created instanceof Miss) || !ephemeral || created.code !== Exception.NODE_EXISTS) {
      if (created instanceof Miss && created.code === Exception.NO_NODE) throw ERR_ZOOKEEPER_REQUEST('register', path, 'NO_NODE (its folder keeps disappearing)');
      return;
    }
    // An ephemeral entry that exists already: ours (register is idempotent), or left by a previous
    // session of the same provider, restarted before that session expired. Left alone, that node
    // would vanish when the old session expires and take this provider off every list (Dubbo
    // deletes and recreates it the same way).
    const stat = await this.request<zookeeper.Stat | null>('register', path, (c, done) => c.exists(path, done));
    if (stat instanceof Miss || stat === null || stat === undefined || stat.ephemeralOwner.equals(this.sessionId())) {
      if (stat === null) await create();
      return;
    }
    await this.request<void>('register', path, (c, done) => c.remove(path, stat.version, done), [Exception.NO_NODE, Exception.BAD_VERSION]);
    await create();
  }

  async unregister(url: URL): Promise<void> {
    if (this.closed) return;
    const path = registryLayout.entry(url, this.options.root);
    await this.request<void>('unregister', path, (c, done) => c.remove(path, -1, done), [Exception.NO_NODE]);
  }

  async subscribe(url: URL, listener: NotifyListener): Promise<void> {
    this.ensureOpen('subscribe');
    const key = url.toString();
    for (const existing of this.subscriptions) {
      if (existing.key === key && existing.listener === listener) {
        // A manager re-subscribing after `reconnected`: read again and re-deliver, never duplicate.
        await Promise.all(existing.watches.map((w) => this.refresh(w)));
        this.schedule(existing);
        return;
      }
    }
    const sub: Subscription = { key, listener, watches: [], active: true, scheduled: false, delivered: false };
    for (const category of subscribedCategories(url)) {
      const path = registryLayout.category(url.path, category, this.options.root);
      let watch = this.watches.get(path);
      if (watch === undefined) this.watches.set(path, (watch = this.newWatch(path)));
      watch.subscribers.add(sub);
      sub.watches.push(watch);
    }
    this.subscriptions.add(sub);
    try {
      await Promise.all(sub.watches.map((w) => (w.loaded && !w.stale ? undefined : this.refresh(w))));
    } catch (err) {
      this.cancel(sub);
      throw err;
    }
    // The first read may have delivered already (it notifies every subscriber of a folder).
    if (sub.active && !sub.delivered) this.schedule(sub);
  }

  async unsubscribe(url: URL, listener: NotifyListener): Promise<void> {
    const key = url.toString();
    for (const sub of [...this.subscriptions]) if (sub.key === key && sub.listener === listener) this.cancel(sub);
  }

  /** Interfaces with at least one entry in any category, up to `maxChildren` of them. */
  async services(): Promise<string[]> {
    this.ensureOpen('list services');
    const root = registryLayout.root(this.options.root);
    const children = await this.request<string[]>('list services', root, (c, done) => c.getChildren(root, undefined, done), [Exception.NO_NODE]);
    if (children instanceof Miss) return [];
    const names = this.capped(root, children);
    const found: string[] = [];
    for (let i = 0; i < names.length; i += SERVICES_BATCH) {
      const batch = names.slice(i, i + SERVICES_BATCH);
      const used = await Promise.all(batch.map((name) => this.hasEntries(`${root}/${name}`)));
      batch.forEach((name, n) => {
        if (!used[n]) return;
        const iface = this.decodeSegment(name);
        if (iface !== undefined) found.push(iface);
        else this.warnOnce(`${root}/${name}`, `zookeeper registry: skipping ${root}/${name.slice(0, 200)}: not a url-encoded interface name`);
      });
    }
    return found.sort();
  }

  /** A one-shot read of `url`'s subscribed categories; creates and watches nothing. */
  async lookup(url: URL): Promise<URL[]> {
    this.ensureOpen('look up');
    const out: URL[] = [];
    for (const category of subscribedCategories(url)) {
      const path = registryLayout.category(url.path, category, this.options.root);
      const children = await this.request<string[]>('look up', path, (c, done) => c.getChildren(path, undefined, done), [Exception.NO_NODE]);
      if (children instanceof Miss) continue;
      for (const u of this.decodeAll(path, children, new Map()).values()) out.push(u);
    }
    return out;
  }

  onStateChange(listener: (state: RegistryState) => void): void {
    this.stateListeners.add(listener);
  }

  /**
   * Stops every subscription at once and closes the session, which removes this instance's
   * ephemeral entries on the server at once (routers and configurators it wrote stay). Bounded by
   * `requestTimeout`; after that the connection is cut and the server drops the entries when the
   * session expires. Leaves no timer or socket behind.
   */
  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const sub of [...this.subscriptions]) this.cancel(sub);
    if (this.staleTimer !== undefined) clearTimeout(this.staleTimer);
    this.staleTimer = undefined;
    this.clearLostTimer();
    for (const w of [...this.waiters]) w.reject(ERR_ZOOKEEPER_CLOSED('wait for a connection'));
    this.waiters.clear();
    const client = this.client;
    this.client = undefined;
    this.closing = client ? this.shutdown(client) : Promise.resolve();
    return this.closing;
  }

  // ---- connection -------------------------------------------------------------------------

  private ensureOpen(what: string): void {
    if (this.closed) throw ERR_ZOOKEEPER_CLOSED(what);
  }

  private sessionId(): Buffer {
    return this.client?.getSessionId() ?? Buffer.alloc(8);
  }

  /** The current client, opened on first use. */
  private open(): zookeeper.Client {
    if (this.client) return this.client;
    const client = zookeeper.createClient(this.options.address, { sessionTimeout: this.options.sessionTimeout, retries: 0 });
    client.on('connected', () => this.onConnected(client));
    client.on('disconnected', () => this.onDisconnected(client));
    client.on('expired', () => this.onExpired(client));
    client.on('authenticationFailed', () => {
      if (client === this.client) this.logger.error(`zookeeper registry: authentication failed at ${this.options.address}`);
    });
    this.guard(client);
    this.client = client;
    this.connection = 'connecting';
    client.connect();
    return client;
  }

  /** Resolves with a connected client, or rejects after `connectTimeout`. */
  private connected(what: string): Promise<zookeeper.Client> {
    this.ensureOpen(what);
    const client = this.open();
    if (this.connection === 'connected') return Promise.resolve(client);
    return new Promise<zookeeper.Client>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (c) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(c);
        },
        reject: (err) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          reject(err);
        },
      };
      const timer = setTimeout(
        () => waiter.reject(ERR_ZOOKEEPER_UNAVAILABLE(this.options.address, what, `no connection within ${this.options.connectTimeout} ms`)),
        this.options.connectTimeout,
      );
      this.waiters.add(waiter);
    });
  }

  private onConnected(client: zookeeper.Client): void {
    if (client !== this.client || this.closed) return;
    this.clearLostTimer();
    const renewed = this.renewing;
    const back = this.everConnected && !renewed;
    this.connection = 'connected';
    this.everConnected = true;
    this.renewing = false;
    for (const w of [...this.waiters]) w.resolve(client);
    if (renewed) {
      this.logger.warn(`zookeeper registry: new session with ${this.options.address}; watches restored, entries must be registered again`);
      this.reportedDown = false;
      // Folders may have been removed while we had no session; check them again on first use.
      this.knownPaths.clear();
      this.refreshAll();
      this.emit('reconnected');
    } else if (back) {
      this.logger.info(`zookeeper registry: connection to ${this.options.address} is back (same session)`);
      this.reportedDown = false;
      this.refreshAll();
      this.emit('connected');
    }
  }

  private onDisconnected(client: zookeeper.Client): void {
    if (client !== this.client || this.closed) return;
    this.connection = 'disconnected';
    this.reportDown(`lost the connection to ${this.options.address}; reconnecting`);
    // A server that lost its data (restarted empty, a lower zxid) refuses the old session without
    // ever saying it expired, and the driver would retry it forever (ZOOKEEPER-832). Past the
    // session timeout without a connection the session is dead anyway: open a new one.
    if (this.lostTimer === undefined) {
      this.lostTimer = setTimeout(() => {
        this.lostTimer = undefined;
        if (client === this.client && !this.closed && this.connection !== 'connected') this.onExpired(client);
      }, this.options.sessionTimeout + 1000);
      this.lostTimer.unref();
    }
  }

  private clearLostTimer(): void {
    if (this.lostTimer !== undefined) clearTimeout(this.lostTimer);
    this.lostTimer = undefined;
  }

  private onExpired(client: zookeeper.Client): void {
    if (client !== this.client || this.closed) return;
    this.clearLostTimer();
    this.reportDown(`session with ${this.options.address} expired`);
    // The expired client never reconnects; a new one opens a new session.
    this.forceClose(client);
    this.client = undefined;
    this.renewing = true;
    this.open();
  }

  private reportDown(message: string): void {
    if (!this.everConnected || this.reportedDown) return;
    this.reportedDown = true;
    this.logger.warn(`zookeeper registry: ${message}`);
    this.emit('disconnected');
  }

  private emit(state: RegistryState): void {
    for (const listener of [...this.stateListeners]) {
      try {
        listener(state);
      } catch (err) {
        this.logger.error(`zookeeper registry: a state listener failed on "${state}": ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }

  /**
   * Bounds what the server's bytes may cost: the driver throws from its socket handler on a frame
   * it cannot parse (an unknown error code, a truncated record), which would end the process, and
   * buffers any announced frame length. Here a frame over {@link MAX_FRAME_BYTES} or one that
   * throws drops the connection instead (the driver then reconnects).
   *
   * Also bounds the session handshake: the driver stops its connect timer once TCP connects and
   * then waits for the server's connect response for ever. A ZooKeeper 3.8 that is still starting
   * can accept a connection, fail to close it ("ZooKeeperServer not running", then a
   * NullPointerException in its close) and never answer; a client whose attempt landed there would
   * never connect, and a new session opened after a loss (which reports no `disconnected`, so no
   * lost-session timer covers it) would wait for good. As in ZooKeeper's own client, the handshake
   * gets the per-server connect timeout (session timeout / number of servers); past it the
   * connection is dropped and the driver tries again.
   *
   * Patched on this client's connection manager before it connects, since the driver binds the
   * socket handlers at connect.
   */
  private guard(client: zookeeper.Client): void {
    const manager = (client as unknown as DriverInternals).connectionManager;
    const original = manager?.onSocketData;
    if (!manager || typeof original !== 'function') return;
    const drop = (why: string) => {
      this.logger.warn(`zookeeper registry: dropping the connection to ${this.options.address}: ${why}`);
      manager.pendingBuffer = null;
      manager.socket?.destroy();
    };
    manager.onSocketData = (chunk: Buffer) => {
      const pending = manager.pendingBuffer?.length ?? 0;
      if (pending + chunk.length > MAX_FRAME_BYTES) return drop(`a frame larger than ${MAX_FRAME_BYTES} bytes`);
      try {
        original.call(manager, chunk);
      } catch (err) {
        drop(`a frame the driver could not read (${(err as Error)?.message ?? String(err)})`);
      }
    };

    const socketConnected = manager.onSocketConnected;
    if (typeof socketConnected !== 'function') return;
    let handshake: ReturnType<typeof setTimeout> | undefined;
    let cut = false;
    const stop = () => {
      if (handshake !== undefined) clearTimeout(handshake);
      handshake = undefined;
    };
    this.handshakes.set(client, () => {
      cut = true;
      stop();
    });
    // Any state but CONNECTING ends the handshake: connected, expired, or the socket closed.
    manager.on('state', (state) => {
      if (state !== DRIVER_CONNECTING) stop();
    });
    manager.onSocketConnected = () => {
      const socket = manager.socket;
      // A retry the driver had already scheduled (its spin delay) when the client was cut off.
      if (cut) {
        if (manager.connectTimeoutHandler) clearTimeout(manager.connectTimeoutHandler);
        return socket?.destroy();
      }
      socketConnected.call(manager);
      stop();
      const bound = manager.connectTimeout !== undefined && manager.connectTimeout > 0 ? manager.connectTimeout : this.options.sessionTimeout;
      handshake = setTimeout(() => {
        handshake = undefined;
        if (manager.socket !== socket || manager.state !== DRIVER_CONNECTING) return;
        this.logger.warn(`zookeeper registry: ${this.options.address} accepted the connection but did not answer the session handshake within ${bound} ms; dropping it and connecting again`);
        manager.pendingBuffer = null;
        socket?.destroy();
      }, bound);
      handshake.unref();
    };
  }

  /** Closes the session, bounded; then makes sure no socket or timer of the driver survives. */
  private async shutdown(client: zookeeper.Client): Promise<void> {
    const manager = (client as unknown as DriverInternals).connectionManager;
    let onState: ((state: number) => void) | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve) => {
        if (!manager || manager.state === DRIVER_CLOSED) return resolve();
        onState = (state) => {
          if (state === DRIVER_CLOSED) resolve();
        };
        manager.on('state', onState);
        timer = setTimeout(resolve, this.options.requestTimeout);
        client.close();
      });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (manager && onState) manager.removeListener('state', onState);
      this.forceClose(client);
    }
  }

  /** Cuts a driver client off for good: no socket, no connect timer, no reconnect. */
  private forceClose(client: zookeeper.Client): void {
    client.removeAllListeners('connected');
    client.removeAllListeners('disconnected');
    client.removeAllListeners('expired');
    this.handshakes.get(client)?.();
    const manager = (client as unknown as DriverInternals & { connectionManager?: { connect?: () => void } }).connectionManager;
    if (!manager) return;
    manager.connect = () => undefined;
    if (manager.connectTimeoutHandler) clearTimeout(manager.connectTimeoutHandler);
    manager.socket?.destroy();
  }

  /** A request without an answer: the driver has no read timeout, so the connection is reset here. */
  private resetConnection(client: zookeeper.Client): void {
    if (client !== this.client || this.connection !== 'connected') return;
    (client as unknown as DriverInternals).connectionManager?.socket?.destroy();
  }

  /**
   * Runs one driver call on a connected client, bounded by `requestTimeout`. Errors with a code in
   * `expected` resolve as a {@link Miss}; the others reject with a coded error.
   */
  private async request<T>(
    what: string,
    path: string,
    call: (client: zookeeper.Client, done: (err: zookeeper.ZkException | null, value?: T) => void) => void,
    expected: readonly number[] = [],
  ): Promise<T | Miss> {
    const client = await this.connected(what);
    return new Promise<T | Miss>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(ERR_ZOOKEEPER_TIMEOUT(this.options.address, `${what} ${path}`, this.options.requestTimeout));
        this.resetConnection(client);
      }, this.options.requestTimeout);
      try {
        call(client, (err, value) => {
          clearTimeout(timer);
          if (!err) return resolve(value as T);
          const code = codeOf(err);
          if (code !== undefined && expected.includes(code)) return resolve(new Miss(code));
          if (code === Exception.CONNECTION_LOSS || code === Exception.SESSION_EXPIRED || code === Exception.OPERATION_TIMEOUT) {
            return reject(ERR_ZOOKEEPER_UNAVAILABLE(this.options.address, `${what} ${path}`, reason(err)));
          }
          reject(ERR_ZOOKEEPER_REQUEST(what, path, reason(err)));
        });
      } catch (err) {
        // The driver asserts on paths it cannot send (e.g. a "." segment).
        clearTimeout(timer);
        reject(ERR_ZOOKEEPER_REQUEST(what, path, reason(err)));
      }
    });
  }

  /** Creates the persistent folders of `path` that are not known to exist. */
  private async ensurePath(path: string, what: string): Promise<void> {
    if (this.knownPaths.has(path)) return;
    let prefix = '';
    for (const segment of path.split('/').slice(1)) {
      prefix += `/${segment}`;
      if (this.knownPaths.has(prefix)) continue;
      const at = prefix;
      await this.request<string>(what, at, (c, done) => c.create(at, null, CreateMode.PERSISTENT, done), [Exception.NODE_EXISTS]);
      this.knownPaths.add(at);
    }
  }

  private async hasEntries(servicePath: string): Promise<boolean> {
    for (const category of REGISTRY_CATEGORIES) {
      const path = `${servicePath}/${category}`;
      const stat = await this.request<zookeeper.Stat | null>('list services', path, (c, done) => c.exists(path, done));
      if (!(stat instanceof Miss) && stat && stat.numChildren > 0) return true;
    }
    return false;
  }

  // ---- watches ----------------------------------------------------------------------------

  private newWatch(path: string): PathWatch {
    const watch: PathWatch = {
      path,
      subscribers: new Set(),
      entries: new Map(),
      loaded: false,
      active: true,
      stale: false,
      again: false,
      watcher: (event) => {
        if (!watch.active || event.getType() === Event.NODE_DATA_CHANGED) return;
        // Children changed, or the folder was deleted: read (and so re-arm) again.
        this.refresh(watch).catch((err) => this.markStale(watch, err));
      },
    };
    return watch;
  }

  /** Reads the folder and re-arms its watch; concurrent calls share one read plus at most one more. */
  private refresh(watch: PathWatch): Promise<void> {
    if (watch.reading) {
      watch.again = true;
      return watch.reading;
    }
    const run = async () => {
      try {
        do {
          watch.again = false;
          await this.read(watch);
        } while (watch.again && watch.active);
        watch.stale = false;
      } finally {
        watch.reading = undefined;
      }
    };
    watch.reading = run();
    return watch.reading;
  }

  private async read(watch: PathWatch): Promise<void> {
    if (!watch.active) return;
    const path = watch.path;
    const get = () => this.request<string[]>('watch', path, (c, done) => c.getChildren(path, watch.watcher, done), [Exception.NO_NODE]);
    let children = await get();
    if (children instanceof Miss) {
      // Dubbo's layout: a subscriber creates the folder it watches, so the watch has a node to sit on.
      this.knownPaths.delete(path);
      await this.ensurePath(path, 'watch');
      children = await get();
      if (children instanceof Miss) children = [];
    }
    if (!watch.active) return;
    const next = this.decodeAll(path, children, watch.entries);
    const changed = !watch.loaded || next.size !== watch.entries.size || [...next.keys()].some((k) => !watch.entries.has(k));
    watch.entries = next;
    watch.loaded = true;
    if (changed) for (const sub of watch.subscribers) this.schedule(sub);
  }

  private refreshAll(): void {
    for (const watch of this.watches.values()) this.refresh(watch).catch((err) => this.markStale(watch, err));
  }

  /** A watch that could not be re-armed is read again after a while (and on every reconnect). */
  private markStale(watch: PathWatch, err: unknown): void {
    if (!watch.active || this.closed) return;
    watch.stale = true;
    this.logger.debug(`zookeeper registry: could not re-read ${watch.path}: ${(err as Error)?.message ?? String(err)}`);
    if (this.staleTimer !== undefined || this.connection !== 'connected') return;
    this.staleTimer = setTimeout(() => {
      this.staleTimer = undefined;
      for (const w of this.watches.values()) if (w.stale) this.refresh(w).catch((e) => this.markStale(w, e));
    }, STALE_RETRY_MS);
    this.staleTimer.unref?.();
  }

  private cancel(sub: Subscription): void {
    sub.active = false;
    this.subscriptions.delete(sub);
    for (const watch of sub.watches) {
      watch.subscribers.delete(sub);
      if (watch.subscribers.size === 0) {
        // The armed ZooKeeper watch fires once more at most and then finds the watch inactive.
        watch.active = false;
        if (this.watches.get(watch.path) === watch) this.watches.delete(watch.path);
      }
    }
  }

  private schedule(sub: Subscription): void {
    if (sub.scheduled) return;
    sub.scheduled = true;
    // Later, never inside subscribe or a driver callback; changes of one turn arrive as one list.
    queueMicrotask(() => {
      sub.scheduled = false;
      if (!sub.active || !sub.watches.every((w) => w.loaded)) return;
      const urls: URL[] = [];
      for (const w of sub.watches) for (const u of w.entries.values()) urls.push(u);
      sub.delivered = true;
      try {
        sub.listener(urls);
      } catch (err) {
        this.logger.error(`zookeeper registry: a listener failed: ${(err as Error)?.message ?? String(err)}`, { subscription: sub.key });
      }
    });
  }

  // ---- entries ----------------------------------------------------------------------------

  /** The first `maxChildren` names; the rest are skipped with one warning. */
  private capped(path: string, names: readonly string[]): readonly string[] {
    const max = this.options.maxChildren;
    if (names.length <= max) return names;
    this.warnOnce(`${path}\u0000cap`, `zookeeper registry: ${path} has ${names.length} children; reading the first ${max} (maxChildren)`);
    return names.slice(0, max);
  }

  /** Decodes entry names, reusing what `previous` already decoded; bad names are skipped with a warning. */
  private decodeAll(path: string, names: readonly string[], previous: ReadonlyMap<string, URL>): Map<string, URL> {
    const out = new Map<string, URL>();
    for (const name of this.capped(path, names)) {
      const known = previous.get(name);
      if (known !== undefined) {
        out.set(name, known);
        continue;
      }
      if (name.length > this.options.maxEntryLength) {
        this.warnOnce(`${path}/${name}`, `zookeeper registry: skipping an entry of ${name.length} characters under ${path} (maxEntryLength ${this.options.maxEntryLength}): ${name.slice(0, 200)}…`);
        continue;
      }
      const url = registryLayout.decode(name);
      if (url === undefined) {
        this.warnOnce(`${path}/${name}`, `zookeeper registry: skipping ${path}/${name.slice(0, 200)}: not a url-encoded URL`);
        continue;
      }
      out.set(name, url);
    }
    return out;
  }

  private decodeSegment(name: string): string | undefined {
    if (name.length > this.options.maxEntryLength) return undefined;
    try {
      const s = decodeURIComponent(name);
      return s === '' ? undefined : s;
    } catch {
      return undefined;
    }
  }

  private warnOnce(rawKey: string, message: string): void {
    // Keys stay small whatever a peer wrote: a name is remembered by its start and its length.
    const key = rawKey.length > 512 ? `${rawKey.slice(0, 512)}#${rawKey.length}` : rawKey;
    if (this.warned.has(key)) return;
    if (this.warned.size >= WARNED_LIMIT) this.warned.clear();
    this.warned.add(key);
    this.logger.warn(message);
  }
}

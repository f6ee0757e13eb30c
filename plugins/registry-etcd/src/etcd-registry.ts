import {
  Etcd3,
  EtcdLeaseInvalidError,
  GRPCDeadlineExceededError,
  GRPCResourceExhastedError,
  isRecoverableError,
  Range,
  type IOptions,
  type IRangeResponse,
} from 'etcd3';
import {
  categoryOf,
  PlexusError,
  registryLayout,
  subscribedCategories,
  type Logger,
  type NotifyListener,
  type Registry,
  type RegistryCategory,
  type RegistryState,
  type URL,
} from '@plexus/kernel/spi';
import { CategoryWatch, listEntries, type WatchHost } from './category-watch';
import { EtcdErrors, withCause } from './etcd-errors';
import { resolveEtcdOptions, type EtcdRegistryOptions, type ResolvedEtcdOptions } from './etcd-options';
import { LeaseKeeper, type LeaseHost } from './lease-keeper';

/** Categories whose entries live as long as the process (attached to the lease). */
const EPHEMERAL: ReadonlySet<RegistryCategory> = new Set(['providers', 'consumers']);

/**
 * gRPC keep-alive on the etcd connection: a ping every 10 s while streams are open, dropped after
 * 5 s without an answer, so a watch on a server that stopped answering (a frozen process, a cut
 * network) breaks and is re-established instead of hanging. etcd refuses pings more frequent than
 * every 5 s (`--grpc-keepalive-min-time`).
 */
const GRPC_OPTIONS = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

/**
 * How long etcd3 waits before re-opening its shared watch stream. Short: our watches list and
 * watch again on their own schedule, and this timer also runs once after close().
 */
const WATCH_STREAM_BACKOFF_MS = 100;

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = NonNullable<FaultHandling['global']>;
type Backoff = NonNullable<FaultHandling['watchBackoff']>;

const noEvent = () => ({ dispose: () => undefined });

/**
 * A cockatiel-shaped policy that calls through: etcd3's default per-host circuit breaker would
 * refuse every call for 5 s after three failures, delaying recovery after an etcd restart. Our
 * own request timeout and the kernel's registry manager do the retrying.
 */
function callThrough(): Policy {
  return {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: (fn: (context: { signal: AbortSignal }) => unknown, signal?: AbortSignal) =>
      Promise.resolve().then(() => fn({ signal: signal ?? new AbortController().signal })),
  } as unknown as Policy;
}

/** Tries each endpoint once (etcd3 picks the next host on each attempt) on connection errors only. */
function eachHostOnce(hosts: number): Policy {
  return {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: async (fn: (context: { signal: AbortSignal }) => unknown, signal?: AbortSignal) => {
      const context = { signal: signal ?? new AbortController().signal };
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn(context);
        } catch (err) {
          if (attempt >= hosts || !(err instanceof Error) || !isRecoverableError(err)) throw err;
        }
      }
    },
  } as unknown as Policy;
}

function constantBackoff(ms: number): Backoff {
  const backoff = { duration: ms, next: () => backoff };
  return backoff as unknown as Backoff;
}

/** One `subscribe(url, listener)`: its categories' watches, delivered at most once per microtask. */
interface Subscription {
  readonly key: string;
  readonly listener: NotifyListener;
  readonly watches: CategoryWatch<Subscription>[];
  active: boolean;
  scheduled: boolean;
  /** Whether the listener was given a list yet. */
  delivered: boolean;
}

/** A console logger for instances built in code without one. */
const consoleLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => console.warn(message, fields ?? ''),
  error: (message, fields) => console.error(message, fields ?? ''),
};

/**
 * The `etcd` registry: entries are etcd keys in Dubbo's layout,
 * `/{root}/{interface}/{category}/{url-encoded URL}` (the value holds the URL too, for people
 * reading etcd by hand; readers use the key alone). Provider and consumer entries are attached to
 * one lease per instance, kept alive every TTL/3, so they vanish within `ttl` of the process
 * dying; `routers` and `configurators` entries are plain keys that stay until removed.
 *
 * A subscription watches the prefix of each of its categories (one shared watch per (interface,
 * category)) and gets the full list at once and after every change. When etcd goes away, watches
 * list and watch again by themselves once it is back; when the lease is lost, a new one is
 * granted and `'reconnected'` reported, so the kernel's registry manager registers again.
 * Every request is bounded by `requestTimeout` and rejects with a coded error.
 *
 * Scope: one instance per application and registry entry; event loop only.
 */
export class EtcdRegistry implements Registry, WatchHost, LeaseHost {
  readonly client: Etcd3;
  readonly logger: Logger;
  readonly options: ResolvedEtcdOptions;
  private readonly lease: LeaseKeeper;
  /** Entry key → whether it is leased, for what this instance registered. */
  private readonly registered = new Map<string, boolean>();
  private readonly watches = new Map<string, CategoryWatch<Subscription>>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly stateListeners = new Set<(state: RegistryState) => void>();
  private state: 'new' | 'connected' | 'disconnected' = 'new';
  private closed = false;

  constructor(options: Readonly<Record<string, unknown>> | EtcdRegistryOptions = {}, logger?: Logger) {
    this.options = resolveEtcdOptions(options as Readonly<Record<string, unknown>>);
    this.logger = logger ?? consoleLogger;
    const timeout = this.options.requestTimeout;
    this.client = new Etcd3({
      hosts: this.options.hosts,
      grpcOptions: GRPC_OPTIONS,
      // Unary calls carry a gRPC deadline, so a call to a dead server ends on its own; streams
      // (watch, keep-alive) live on and are watched by the keep-alive pings instead.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
      faultHandling: {
        host: () => callThrough(),
        global: eachHostOnce(this.options.hosts.length),
        watchBackoff: constantBackoff(WATCH_STREAM_BACKOFF_MS),
      },
    });
    this.lease = new LeaseKeeper(this);
  }

  get maxKeyBytes(): number {
    return this.options.maxKeyBytes;
  }

  get maxEntries(): number {
    return this.options.maxEntries;
  }

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  async register(url: URL): Promise<void> {
    this.ensureOpen('register');
    const key = this.entryKey(url);
    const leased = EPHEMERAL.has(categoryOf(url));
    const value = url.toString();
    if (!leased) {
      await this.call('register', () => this.client.put(key).value(value).exec());
      this.registered.set(key, false);
      return;
    }
    // Recorded first, so that a lease lost while this put is in flight is granted again.
    const known = this.registered.has(key);
    this.registered.set(key, true);
    try {
      for (let attempt = 1; ; attempt++) {
        const lease = await this.lease.id();
        try {
          await this.call('register', () => this.client.put(key).value(value).lease(lease).exec());
          return;
        } catch (err) {
          // etcd forgot the lease (restarted with a fresh data dir, or revoked): one more try on a new one.
          if (attempt > 1 || !(PlexusError.is(err) && err.cause instanceof EtcdLeaseInvalidError)) throw err;
          this.lease.invalidate(lease, err.cause);
        }
      }
    } catch (err) {
      if (!known) this.registered.delete(key);
      throw err;
    }
  }

  async unregister(url: URL): Promise<void> {
    this.ensureOpen('unregister');
    const key = registryLayout.entry(url, this.options.root);
    await this.call('unregister', () => this.client.delete().key(key).exec());
    this.registered.delete(key);
  }

  async subscribe(url: URL, listener: NotifyListener): Promise<void> {
    this.ensureOpen('subscribe');
    const key = url.toString();
    const existing = this.find(key, listener);
    if (existing !== undefined) {
      // The manager subscribes again after 'reconnected': deliver the current list, add nothing.
      await Promise.all(existing.watches.map((w) => w.ready()));
      this.schedule(existing);
      return;
    }
    const watches = subscribedCategories(url).map((category) => this.watchOf(url.path, category));
    const sub: Subscription = { key, listener, watches, active: true, scheduled: false, delivered: false };
    this.subscriptions.add(sub);
    for (const watch of watches) watch.subscribers.add(sub);
    try {
      await Promise.all(watches.map((w) => w.ready()));
    } catch (err) {
      this.cancel(sub);
      throw err;
    }
    // A watch listed just now has scheduled the first list already; a shared one had nothing new to say.
    if (!sub.delivered) this.schedule(sub);
  }

  async unsubscribe(url: URL, listener: NotifyListener): Promise<void> {
    const sub = this.find(url.toString(), listener);
    if (sub !== undefined) this.cancel(sub);
  }

  async lookup(url: URL): Promise<URL[]> {
    this.ensureOpen('lookup');
    const out: URL[] = [];
    for (const category of subscribedCategories(url)) {
      const prefix = `${registryLayout.category(url.path, category, this.options.root)}/`;
      const listing = await listEntries(this, prefix, url.path, 'lookup');
      if (listing.more) this.logger.warn(`etcd registry: lookup of ${prefix} stopped at maxEntries ${this.options.maxEntries}`, { prefix });
      for (const entry of listing.entries) {
        if (entry.url !== null) out.push(entry.url);
        else this.logger.warn(`etcd registry: lookup skipped an entry under ${prefix}: ${entry.reason}`, { entry: entry.shown });
      }
    }
    return out;
  }

  /**
   * Interfaces with at least one entry: a skip scan over the root that reads one key per
   * interface and jumps past the rest of it, so the cost follows the number of interfaces, not
   * of entries (at most `maxEntries` requests).
   */
  async services(): Promise<string[]> {
    this.ensureOpen('list services');
    const root = `${registryLayout.root(this.options.root)}/`;
    const end = Range.prefix(root).end;
    let from = Buffer.from(root);
    const out: string[] = [];
    for (let step = 0; step < this.options.maxEntries; step++) {
      const res: IRangeResponse = await this.call('listing services', () =>
        this.client.kv.range({ key: from, range_end: end, limit: 1, keys_only: true }),
      );
      const kv = res.kvs[0];
      if (kv === undefined) return out;
      const rest = kv.key.toString('utf8').slice(root.length);
      const slash = rest.indexOf('/');
      if (slash < 0) {
        from = Buffer.concat([kv.key, Buffer.from([0])]);
        continue;
      }
      const segment = rest.slice(0, slash);
      // '0' follows '/': the next key outside `{root}/{segment}/`.
      from = Buffer.from(`${root}${segment}0`);
      const iface = safeDecode(segment);
      if (iface !== undefined && iface !== '' && kv.key.length <= this.options.maxKeyBytes) out.push(iface);
    }
    this.logger.warn(`etcd registry: listing services stopped at maxEntries ${this.options.maxEntries}`);
    return out;
  }

  onStateChange(listener: (state: RegistryState) => void): void {
    this.stateListeners.add(listener);
  }

  /** Revokes the lease (removing this instance's provider and consumer entries), stops watches, closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of [...this.subscriptions]) this.cancel(sub);
    const watches = [...this.watches.values()];
    this.watches.clear();
    // A cancel waits for etcd's confirmation; a dead server gets requestTimeout, no more.
    await this.bounded(Promise.all(watches.map((w) => w.close())));
    await this.lease.close();
    this.registered.clear();
    this.stateListeners.clear();
    this.client.close();
  }

  // ---- WatchHost / LeaseHost ----

  async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    const ms = this.options.requestTimeout;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(EtcdErrors.TIMEOUT(what, this.options.address, ms)), ms);
    });
    try {
      const value = await Promise.race([Promise.resolve().then(op), timeout]);
      this.connectionUp();
      return value;
    } catch (err) {
      if (PlexusError.is(err, EtcdErrors.TIMEOUT.code)) {
        this.connectionLost(err);
        throw err;
      }
      if (err instanceof GRPCDeadlineExceededError) {
        // The gRPC deadline (set to the same requestTimeout) ran out before our timer.
        this.connectionLost(err);
        throw withCause(EtcdErrors.TIMEOUT(what, this.options.address, ms), err);
      }
      const message = (err as Error)?.message ?? String(err);
      // gRPC's flag says "retry", but a response over the message limit says nothing about the connection.
      if (err instanceof Error && isRecoverableError(err) && !(err instanceof GRPCResourceExhastedError)) {
        this.connectionLost(err);
        throw withCause(EtcdErrors.UNREACHABLE(what, this.options.address, message), err);
      }
      // etcd answered: the connection is fine, the request is not.
      if (!(err instanceof EtcdLeaseInvalidError)) this.connectionUp();
      throw withCause(EtcdErrors.REQUEST(what, this.options.address, message), err);
    } finally {
      clearTimeout(timer);
    }
  }

  connectionLost(cause: unknown): void {
    if (this.closed || this.state === 'disconnected') return;
    this.state = 'disconnected';
    this.logger.warn(`etcd registry: lost the connection to ${this.options.address}`, { cause: (cause as Error)?.message ?? String(cause) });
    this.emit('disconnected');
  }

  connectionUp(): void {
    if (this.closed || this.state === 'connected') return;
    const before = this.state;
    this.state = 'connected';
    // The first contact is not news; coming back after a loss is.
    if (before !== 'disconnected') return;
    this.logger.info(`etcd registry: connected again to ${this.options.address}`);
    this.emit('connected');
    // Watches that lost their stream list again now rather than at their next backoff tick.
    for (const watch of this.watches.values()) if (!watch.watching) void watch.sync().catch(() => undefined);
  }

  needsLease(): boolean {
    for (const leased of this.registered.values()) if (leased) return true;
    return false;
  }

  leaseRenewed(): void {
    if (this.closed) return;
    this.emit('reconnected');
  }

  changed(watch: CategoryWatch): void {
    for (const sub of (watch as CategoryWatch<Subscription>).subscribers) this.schedule(sub);
  }

  // ---- internals ----

  private entryKey(url: URL): string {
    const key = registryLayout.entry(url, this.options.root);
    const bytes = Buffer.byteLength(key);
    if (bytes > this.options.maxKeyBytes) throw EtcdErrors.ENTRY_TOO_LARGE(bytes, this.options.maxKeyBytes);
    return key;
  }

  private watchOf(iface: string, category: RegistryCategory): CategoryWatch<Subscription> {
    const prefix = `${registryLayout.category(iface, category, this.options.root)}/`;
    let watch = this.watches.get(prefix);
    if (watch === undefined) this.watches.set(prefix, (watch = new CategoryWatch<Subscription>(this, iface, category, prefix)));
    return watch;
  }

  private find(key: string, listener: NotifyListener): Subscription | undefined {
    for (const sub of this.subscriptions) if (sub.key === key && sub.listener === listener) return sub;
    return undefined;
  }

  private cancel(sub: Subscription): void {
    sub.active = false;
    this.subscriptions.delete(sub);
    for (const watch of sub.watches) {
      watch.subscribers.delete(sub);
      if (watch.subscribers.size === 0 && this.watches.get(watch.prefix) === watch) {
        this.watches.delete(watch.prefix);
        void watch.close();
      }
    }
  }

  private schedule(sub: Subscription): void {
    if (sub.scheduled || !sub.active) return;
    sub.scheduled = true;
    // Later, never inside subscribe or a watch event: a listener may call back into the registry.
    queueMicrotask(() => {
      sub.scheduled = false;
      if (!sub.active || !sub.watches.every((w) => w.listed)) return;
      const urls = sub.watches.flatMap((w) => w.urls());
      sub.delivered = true;
      try {
        sub.listener(urls);
      } catch (err) {
        this.logger.error(`etcd registry: a subscriber failed: ${(err as Error)?.message ?? String(err)}`, { subscription: sub.key });
      }
    });
  }

  private emit(state: RegistryState): void {
    for (const listener of [...this.stateListeners]) {
      try {
        listener(state);
      } catch (err) {
        this.logger.error(`etcd registry: a state listener failed: ${(err as Error)?.message ?? String(err)}`, { state });
      }
    }
  }

  private async bounded(work: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([work.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, this.options.requestTimeout)))]);
    clearTimeout(timer);
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw EtcdErrors.CLOSED(what);
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}


import * as fs from 'node:fs';
import * as path from 'node:path';
import { RegistryErrors } from '../errors/catalogue';
import type { Logger } from '../spi/logger';
import type { NotifyListener, Registry, RegistryState } from '../spi/registry';
import { URL } from '../url/url';
import { subscribedCategories } from './layout';

/** One backend the manager drives, with the id and address used in logs and the snapshot. */
export interface ManagedRegistry {
  /** Unique per application: `registries[].id`, else the type. */
  readonly id: string;
  /** What to name in messages: `zookeeper://127.0.0.1:2181`. */
  readonly address: string;
  readonly backend: Registry;
}

/** Options of the {@link RegistryManager}. */
export interface RegistryManagerOptions {
  logger: Logger;
  /**
   * The disk snapshot of provider lists (DESIGN §8): a file path, or false for none. Consumers
   * read it when a registry cannot be reached, so a restart during a registry outage still works.
   */
  snapshot: string | false;
  /** How often failed register/subscribe calls are retried, ms (default 2000, Dubbo's 5000 is slow for a restart). */
  retryPeriod?: number;
}

/** Largest snapshot file read back, bytes: the file could be anyone's. */
const MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024;
/** Snapshot writes are coalesced over this long. */
const SNAPSHOT_DELAY = 200;

/** One subscription of one listener, across every backend. */
class Subscription {
  /** The last list each backend sent, as URL strings, by registry id. */
  readonly lists = new Map<string, URL[]>();
  /** Backends whose subscribe has not succeeded yet, by id. */
  readonly pending = new Set<string>();
  /** The per-backend listeners, so unsubscribe can hand back the same function. */
  readonly backendListeners = new Map<string, NotifyListener>();
  lastKeys = '';
  delivered = false;
  constructor(
    readonly url: URL,
    readonly key: string,
    readonly listener: NotifyListener,
  ) {}
}

/**
 * What every registry backend shares, written once (Dubbo's AbstractRegistry + FailbackRegistry):
 * several registries at once, the in-memory cache of the last lists, the disk snapshot, retry of
 * failed register/subscribe on a timer, and register/subscribe again when a backend reports it
 * lost its session (`'reconnected'`). Backends only talk to their servers.
 * Scope: one per application; event loop only.
 */
/** How long after a registry's new session an empty provider list is not believed (see RegistryDirectory). */
export const RECOVERY_GRACE_MS = 30_000;

export class RegistryManager {
  /** When a registry last came back with a new session (epoch ms; 0 = never). */
  private lastReconnectAt = 0;
  private readonly registered = new Map<string, URL>();
  /** (registry id, url string) pairs whose register failed and is retried. */
  private readonly failedRegister = new Map<string, { registry: ManagedRegistry; url: URL }>();
  private readonly subscriptions: Subscription[] = [];
  private snapshotData: Record<string, string[]> = {};
  private snapshotTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly retryPeriod: number;

  constructor(
    readonly registries: readonly ManagedRegistry[],
    private readonly options: RegistryManagerOptions,
  ) {
    this.retryPeriod = options.retryPeriod ?? 2000;
    this.snapshotData = this.readSnapshot();
    for (const r of registries) r.backend.onStateChange?.((state) => this.onState(r, state));
  }

  /** Registers `url` with every registry; a backend that fails gets it again on the retry timer. */
  async register(url: URL): Promise<void> {
    const key = url.toString();
    this.registered.set(key, url);
    await Promise.all(this.registries.map((r) => this.tryRegister(r, url)));
  }

  async unregister(url: URL): Promise<void> {
    const key = url.toString();
    this.registered.delete(key);
    for (const r of this.registries) this.failedRegister.delete(`${r.id}\u0000${key}`);
    await Promise.all(
      this.registries.map((r) =>
        r.backend.unregister(url).catch((err: Error) => this.options.logger.warn(`unregister from ${r.address} failed: ${err.message}`)),
      ),
    );
  }

  /**
   * Subscribes `listener` to `url` on every registry. It is called with the union of what the
   * registries list — at once from the snapshot when a registry cannot be reached and the snapshot
   * knows the answer — and after every change. Resolves once every backend answered or failed;
   * failed ones are retried.
   */
  async subscribe(url: URL, listener: NotifyListener): Promise<void> {
    const sub = new Subscription(url, subscriptionKey(url), listener);
    this.subscriptions.push(sub);
    await Promise.all(this.registries.map((r) => this.trySubscribe(r, sub)));
    // Nothing reachable: serve the snapshot, so a restart during an outage still finds providers.
    if (!sub.delivered && sub.pending.size === this.registries.length) {
      const cached = this.snapshotData[sub.key];
      if (cached !== undefined) {
        this.options.logger.warn(
          `no registry reachable for ${url.path}; using the snapshot's ${cached.length} provider(s) until one answers`,
        );
        this.deliver(sub, cached.map((u) => URL.parse(u)));
      }
    }
  }

  /**
   * Whether a registry came back with a new session in the last `graceMs`: its lists may be empty
   * until every provider has written its entry again (they retry every `retryPeriod`).
   */
  recovering(graceMs = RECOVERY_GRACE_MS): boolean {
    return this.lastReconnectAt > 0 && Date.now() - this.lastReconnectAt < graceMs;
  }

  /** Whether every registry failed `subscribe` for `url`'s key and nothing (not even a snapshot) was delivered. */
  unreachable(url: URL): boolean {
    const sub = this.subscriptions.find((s) => s.key === subscriptionKey(url));
    return sub !== undefined && !sub.delivered && sub.pending.size === this.registries.length;
  }

  async unsubscribe(url: URL, listener: NotifyListener): Promise<void> {
    const key = subscriptionKey(url);
    const i = this.subscriptions.findIndex((s) => s.key === key && s.listener === listener);
    if (i < 0) return;
    const [sub] = this.subscriptions.splice(i, 1);
    await Promise.all(
      this.registries.map((r) => {
        const l = sub.backendListeners.get(r.id);
        return l ? r.backend.unsubscribe(url, l).catch(() => undefined) : undefined;
      }),
    );
  }

  /** Lists interfaces known to any registry (for `plexus ls`). */
  async services(): Promise<string[]> {
    const all = new Set<string>();
    for (const r of this.registries) for (const s of (await r.backend.services?.().catch(() => [])) ?? []) all.add(s);
    return [...all].sort();
  }

  /** Unregisters what was registered, stops retries, writes the snapshot, closes the backends. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    for (const url of [...this.registered.values()]) await this.unregister(url);
    this.flushSnapshot();
    await Promise.all(
      this.registries.map((r) => r.backend.close().catch((err: Error) => this.options.logger.warn(`closing registry ${r.address} failed: ${err.message}`))),
    );
  }

  private async tryRegister(r: ManagedRegistry, url: URL): Promise<void> {
    const key = `${r.id}\u0000${url.toString()}`;
    try {
      await r.backend.register(url);
      this.failedRegister.delete(key);
    } catch (err) {
      if (!this.failedRegister.has(key)) {
        const e = RegistryErrors.REGISTER(r.address, url.path, (err as Error)?.message ?? String(err));
        this.options.logger.warn(e.message, { code: e.code });
      }
      this.failedRegister.set(key, { registry: r, url });
      this.scheduleRetry();
    }
  }

  private async trySubscribe(r: ManagedRegistry, sub: Subscription): Promise<void> {
    let listener = sub.backendListeners.get(r.id);
    if (listener === undefined) {
      listener = (urls) => this.onList(r, sub, urls);
      sub.backendListeners.set(r.id, listener);
    }
    try {
      await r.backend.subscribe(sub.url, listener);
      sub.pending.delete(r.id);
    } catch (err) {
      if (!sub.pending.has(r.id)) {
        const e = RegistryErrors.SUBSCRIBE(r.address, sub.url.path, (err as Error)?.message ?? String(err));
        this.options.logger.warn(e.message, { code: e.code });
      }
      sub.pending.add(r.id);
      this.scheduleRetry();
    }
  }

  private onList(r: ManagedRegistry, sub: Subscription, urls: URL[]): void {
    if (this.closed || !this.subscriptions.includes(sub)) return;
    sub.pending.delete(r.id);
    sub.lists.set(r.id, urls);
    const merged = new Map<string, URL>();
    for (const list of sub.lists.values()) for (const u of list) merged.set(u.toString(), u);
    this.deliver(sub, [...merged.values()]);
    this.snapshotData[sub.key] = [...merged.keys()].sort();
    this.scheduleSnapshot();
  }

  private deliver(sub: Subscription, urls: URL[]): void {
    const keys = urls
      .map((u) => u.toString())
      .sort()
      .join('\n');
    if (sub.delivered && keys === sub.lastKeys) return;
    sub.delivered = true;
    sub.lastKeys = keys;
    try {
      sub.listener(urls);
    } catch (err) {
      this.options.logger.error(`registry listener for ${sub.url.path} failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private onState(r: ManagedRegistry, state: RegistryState): void {
    if (this.closed) return;
    if (state === 'disconnected') {
      this.options.logger.warn(`registry ${r.address} disconnected; calls go on with the last provider lists`);
    } else if (state === 'reconnected') {
      this.lastReconnectAt = Date.now();
      this.options.logger.info(`registry ${r.address} is back with a new session: registering and subscribing again`);
      for (const url of this.registered.values()) void this.tryRegister(r, url);
      for (const sub of this.subscriptions) void this.trySubscribe(r, sub);
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setInterval(() => this.retry(), this.retryPeriod);
    this.retryTimer.unref();
  }

  private retry(): void {
    const registers = [...this.failedRegister.values()];
    const subs = this.subscriptions.filter((s) => s.pending.size > 0);
    if (registers.length === 0 && subs.length === 0) {
      clearInterval(this.retryTimer);
      this.retryTimer = undefined;
      return;
    }
    for (const { registry, url } of registers) if (this.registered.has(url.toString())) void this.tryRegister(registry, url);
    for (const sub of subs) for (const id of [...sub.pending]) {
      const r = this.registries.find((x) => x.id === id);
      if (r) void this.trySubscribe(r, sub);
    }
  }

  private readSnapshot(): Record<string, string[]> {
    const file = this.options.snapshot;
    if (file === false) return {};
    try {
      const stat = fs.statSync(file);
      if (stat.size > MAX_SNAPSHOT_BYTES) {
        this.snapshotProblem(file, `it is ${stat.size} bytes, over ${MAX_SNAPSHOT_BYTES}; ignored`);
        return {};
      }
      const data = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
      const out: Record<string, string[]> = Object.create(null);
      if (typeof data !== 'object' || data === null) return out;
      for (const [k, v] of Object.entries(data)) {
        if (!Array.isArray(v)) continue;
        const urls = v.filter((u): u is string => typeof u === 'string' && isUrl(u));
        out[k] = urls;
      }
      return out;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.snapshotProblem(file, `could not be read (${(err as Error).message}); starting without it`);
      }
      return {};
    }
  }

  private snapshotProblem(file: string, what: string): void {
    const e = RegistryErrors.SNAPSHOT(file, what);
    this.options.logger.warn(e.message, { code: e.code });
  }

  private scheduleSnapshot(): void {
    if (this.options.snapshot === false || this.snapshotTimer !== undefined) return;
    this.snapshotTimer = setTimeout(() => this.flushSnapshot(), SNAPSHOT_DELAY);
    this.snapshotTimer.unref();
  }

  private flushSnapshot(): void {
    if (this.snapshotTimer !== undefined) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = undefined;
    const file = this.options.snapshot;
    if (file === false) return;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(this.snapshotData));
      fs.renameSync(tmp, file);
    } catch (err) {
      this.snapshotProblem(file, `could not be written: ${(err as Error).message}`);
    }
  }
}

function isUrl(text: string): boolean {
  try {
    URL.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** What a subscription is keyed by in the snapshot: interface, version, group and categories. */
function subscriptionKey(url: URL): string {
  return `${url.serviceKey}|${subscribedCategories(url).join(',')}`;
}

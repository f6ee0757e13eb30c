import type { Etcd3, IKeyValue, IRangeResponse, Watcher } from 'etcd3';
import { Range } from 'etcd3';
import { registryLayout, type Logger, type RegistryCategory, type URL } from '@plexus/kernel/spi';

/** First retry of a failed listing, in ms; doubled on each failure up to {@link WATCH_RETRY_MAX_MS}. */
export const WATCH_RETRY_MIN_MS = 100;
/** Longest wait between two listings while etcd is unreachable: a restarted server is seen within ~2 s. */
export const WATCH_RETRY_MAX_MS = 2_000;

/** What a {@link CategoryWatch} needs from its registry. */
export interface WatchHost {
  readonly client: Etcd3;
  readonly logger: Logger;
  readonly maxKeyBytes: number;
  readonly maxEntries: number;
  /** Runs one etcd request, bounded in time; rejects with a coded error. */
  call<T>(what: string, op: () => Promise<T>): Promise<T>;
  /** The watch stream broke: etcd is (for now) out of reach. */
  connectionLost(cause: unknown): void;
  /** The list of `watch` changed (or was listed for the first time). */
  changed(watch: CategoryWatch): void;
}

/**
 * The live list of one (interface, category): a keys-only listing of the prefix
 * `/{root}/{interface}/{category}/`, then an etcd watch from the revision after that listing, so
 * no change falls between the two. The watch applies puts and deletes to the list in order.
 *
 * When the watch stream breaks (etcd restarted, network cut, compaction cancelled the watch),
 * the watch is dropped and the whole thing starts again — list, then watch — with a backoff
 * while etcd is unreachable. Listing again rather than resuming the old watch also covers a
 * server restarted with a fresh data dir, whose revisions start again from 1.
 *
 * Values are never read: the entry is its key (Dubbo's layout). A key over `maxKeyBytes`, one
 * that does not decode to a URL, or one past `maxEntries` is skipped with one warning.
 * Scope: one per (interface, category) in use by a registry instance; event loop only.
 */
export class CategoryWatch<S = unknown> {
  /** The subscriptions reading this list; the registry closes the watch when none is left. */
  readonly subscribers = new Set<S>();
  /** Whether the category was listed at least once (its list is known). */
  listed = false;
  /** key → URL, or null for an entry that is skipped (and was warned about). */
  private entries = new Map<string, URL | null>();
  private readonly warned = new Set<string>();
  private overflowWarned = false;
  private watcher: Watcher | undefined;
  private generation = 0;
  private syncing: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly host: WatchHost,
    readonly iface: string,
    readonly category: RegistryCategory,
    /** `/{root}/{interface}/{category}/` */
    readonly prefix: string,
  ) {}

  /** Whether an etcd watch is in place (false while etcd is out of reach and the watch retries). */
  get watching(): boolean {
    return this.watcher !== undefined;
  }

  /** The decoded entries now, in key order. */
  urls(): URL[] {
    const out: URL[] = [];
    for (const url of this.entries.values()) if (url !== null) out.push(url);
    return out;
  }

  /** Resolves once the category has been listed (at once if it was); rejects with the listing's coded error. */
  ready(): Promise<void> {
    return this.listed ? Promise.resolve() : this.sync();
  }

  /** Lists the category again and watches from there; concurrent callers share one attempt. */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.syncing === undefined) {
      this.clearRetry();
      this.syncing = this.listThenWatch().finally(() => {
        this.syncing = undefined;
      });
    }
    return this.syncing;
  }

  /** Stops the watch and any retry; the list stays as it was. */
  close(): Promise<void> {
    this.closed = true;
    this.generation++;
    this.clearRetry();
    return this.dropWatcher();
  }

  private async listThenWatch(): Promise<void> {
    const generation = ++this.generation;
    void this.dropWatcher();
    const range = Range.prefix(this.prefix);
    let res: IRangeResponse;
    try {
      res = await this.host.call(`listing ${this.prefix}`, () =>
        this.host.client.kv.range({ key: range.start, range_end: range.end, limit: this.host.maxEntries, keys_only: true }),
      );
    } catch (err) {
      if (generation === this.generation) this.retryLater();
      throw err;
    }
    if (generation !== this.generation) return;
    this.failures = 0;
    this.replace(res);
    this.watch(generation, res.header.revision);
  }

  /** Takes a fresh listing as the whole list; tells subscribers when it differs from the last one. */
  private replace(res: IRangeResponse): void {
    const next = new Map<string, URL | null>();
    for (const kv of res.kvs) {
      const key = kv.key.toString('utf8');
      next.set(key, this.decode(key, kv.key.length));
    }
    if (res.more) this.warnOverflow();
    else this.overflowWarned = false;
    // Forget warnings about entries that are gone, so the set stays as small as the list.
    for (const key of this.warned) if (!next.has(key)) this.warned.delete(key);
    const changed = !this.listed || !sameEntries(this.entries, next);
    this.entries = next;
    this.listed = true;
    if (changed) this.host.changed(this);
  }

  private watch(generation: number, revision: string): void {
    const watcher = this.host.client.watch().prefix(this.prefix).startRevision(String(BigInt(revision) + 1n)).watcher();
    this.watcher = watcher;
    const current = () => generation === this.generation && this.watcher === watcher;
    watcher.on('put', (kv: IKeyValue) => {
      if (current()) this.put(kv);
    });
    watcher.on('delete', (kv: IKeyValue) => {
      if (current()) this.remove(kv.key.toString('utf8'));
    });
    const broken = (cause: unknown) => {
      if (!current()) return;
      this.host.connectionLost(cause);
      this.generation++;
      void this.dropWatcher();
      this.retryLater();
    };
    watcher.on('disconnected', broken);
    // A watch cancelled by etcd (compacted revision, for one) ends up here; never left unhandled.
    watcher.on('error', broken);
  }

  private put(kv: IKeyValue): void {
    const key = kv.key.toString('utf8');
    if (!this.entries.has(key) && this.entries.size >= this.host.maxEntries) {
      this.warnOverflow();
      return;
    }
    const url = this.decode(key, kv.key.length);
    const before = this.entries.get(key);
    this.entries.set(key, url);
    if (before === undefined || !sameUrl(before, url)) this.host.changed(this);
  }

  private remove(key: string): void {
    const before = this.entries.get(key);
    if (!this.entries.delete(key)) return;
    this.warned.delete(key);
    if (this.entries.size < this.host.maxEntries) this.overflowWarned = false;
    if (before !== null) this.host.changed(this);
  }

  /** The URL of an entry key, or null (with one warning per key) when it is skipped. */
  private decode(key: string, bytes: number): URL | null {
    const entry = decodeEntry(key, bytes, this.prefix, this.iface, this.host.maxKeyBytes);
    if (entry.url !== undefined) return entry.url;
    this.warnOnce(key, `etcd registry: skipped an entry under ${this.prefix}: ${entry.reason}`);
    return null;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    // The name is cut short: it is what a hostile writer controls.
    this.host.logger.warn(message, { entry: key.length > 200 ? `${key.slice(0, 200)}…` : key });
  }

  private warnOverflow(): void {
    if (this.overflowWarned) return;
    this.overflowWarned = true;
    this.host.logger.warn(`etcd registry: ${this.prefix} holds more than maxEntries ${this.host.maxEntries} entries; the rest are left out`, {
      prefix: this.prefix,
      maxEntries: this.host.maxEntries,
    });
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = Math.min(WATCH_RETRY_MIN_MS * 2 ** this.failures, WATCH_RETRY_MAX_MS);
    this.failures = Math.min(this.failures + 1, 16);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // Failures are reported through the host's call() and retried here; nothing to add.
      this.sync().catch(() => undefined);
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Detaches the current etcd watcher; resolves when etcd confirmed, or at once when not connected. */
  private dropWatcher(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher === undefined) return Promise.resolve();
    return watcher.cancel().catch(() => undefined);
  }
}

/**
 * Reads one entry key under `prefix` (`/{root}/{interface}/{category}/`): its URL, or why it is
 * skipped — longer than `maxKeyBytes` (checked before decoding), not one segment, not a URL, or a
 * URL of another interface.
 */
export function decodeEntry(
  key: string,
  bytes: number,
  prefix: string,
  iface: string,
  maxKeyBytes: number,
): { url: URL; reason?: undefined } | { url?: undefined; reason: string } {
  if (bytes > maxKeyBytes) return { reason: `${bytes} bytes, over maxKeyBytes ${maxKeyBytes}` };
  const segment = key.startsWith(prefix) ? key.slice(prefix.length) : '';
  const url = segment === '' || segment.includes('/') ? undefined : registryLayout.decode(segment);
  if (url === undefined) return { reason: 'not a URL-encoded URL' };
  if (url.path !== iface) return { reason: `a URL of ${url.path}, not of ${iface}` };
  return { url };
}

function sameEntries(a: Map<string, URL | null>, b: Map<string, URL | null>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, url] of b) if (!a.has(key) || !sameUrl(a.get(key), url)) return false;
  return true;
}

function sameUrl(a: URL | null | undefined, b: URL | null | undefined): boolean {
  if (a === null || b === null || a === undefined || b === undefined) return a === b;
  return a.toString() === b.toString();
}

import { createHash } from 'node:crypto';
import type { Etcd3, IKeyValue, IRangeResponse, Watcher } from 'etcd3';
import { GRPCResourceExhastedError, Range } from 'etcd3';
import { PlexusError, registryLayout, type Logger, type RegistryCategory, type URL } from '@plexus/kernel/spi';

/** First retry of a failed listing, in ms; doubled on each failure up to {@link WATCH_RETRY_MAX_MS}. */
export const WATCH_RETRY_MIN_MS = 100;
/** Longest wait between two listings while etcd is unreachable: a restarted server is seen within ~2 s. */
export const WATCH_RETRY_MAX_MS = 2_000;

/**
 * Keys asked for per listing request. gRPC refuses a response over 4 MiB (grpc-js's default
 * receive limit, kept): 256 keys of up to 8 KiB stay well under it. When a page is refused all
 * the same (someone wrote huge keys), the page shrinks by 4 down to one key — etcd's own limit on
 * a request (1.5 MiB) keeps any single key under 4 MiB.
 */
export const LIST_PAGE = 256;

/** What listing a prefix needs. */
export interface ListHost {
  readonly client: Etcd3;
  readonly maxKeyBytes: number;
  readonly maxEntries: number;
  /** Runs one etcd request, bounded in time; rejects with a coded error. */
  call<T>(what: string, op: () => Promise<T>): Promise<T>;
}

/** What a {@link CategoryWatch} needs from its registry. */
export interface WatchHost extends ListHost {
  readonly logger: Logger;
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
    let listing: Listing;
    try {
      listing = await listEntries(this.host, this.prefix, this.iface, `listing ${this.prefix}`);
    } catch (err) {
      if (generation === this.generation) this.retryLater();
      throw err;
    }
    if (generation !== this.generation) return;
    this.failures = 0;
    this.replace(listing);
    this.watch(generation, listing.revision);
  }

  /** Takes a fresh listing as the whole list; tells subscribers when it differs from the last one. */
  private replace(listing: Listing): void {
    const next = new Map<string, URL | null>();
    for (const entry of listing.entries) {
      next.set(entry.id, entry.url);
      if (entry.url === null) this.warnOnce(entry);
    }
    if (listing.more) this.warnOverflow();
    else this.overflowWarned = false;
    // Forget warnings about entries that are gone, so the set stays as small as the list.
    for (const id of this.warned) if (!next.has(id)) this.warned.delete(id);
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
      if (current()) this.remove(entryId(kv.key, this.host.maxKeyBytes));
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
    const entry = readEntry(kv.key, this.prefix, this.iface, this.host.maxKeyBytes);
    if (!this.entries.has(entry.id) && this.entries.size >= this.host.maxEntries) {
      this.warnOverflow();
      return;
    }
    if (entry.url === null) this.warnOnce(entry);
    const before = this.entries.get(entry.id);
    this.entries.set(entry.id, entry.url);
    // A skipped entry coming or going changes nothing a subscriber sees.
    if (!sameUrl(before ?? null, entry.url)) this.host.changed(this);
  }

  private remove(id: string): void {
    const before = this.entries.get(id);
    if (!this.entries.delete(id)) return;
    this.warned.delete(id);
    if (this.entries.size < this.host.maxEntries) this.overflowWarned = false;
    if (before !== null) this.host.changed(this);
  }

  private warnOnce(entry: Entry): void {
    if (this.warned.has(entry.id)) return;
    this.warned.add(entry.id);
    this.host.logger.warn(`etcd registry: skipped an entry under ${this.prefix}: ${entry.reason}`, { entry: entry.shown });
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

/** One key read under a category prefix. */
export interface Entry {
  /** The key itself, or a digest of it when it is over `maxKeyBytes` (never held whole). */
  readonly id: string;
  /** The entry's URL; null when it is skipped. */
  readonly url: URL | null;
  /** Why it is skipped. */
  readonly reason?: string;
  /** The key cut to 200 characters, for a warning: it is what a hostile writer controls. */
  readonly shown: string;
}

/** The entries of a prefix at one revision. */
export interface Listing {
  readonly entries: Entry[];
  readonly revision: string;
  /** Whether more than `maxEntries` keys are there (the rest were not read). */
  readonly more: boolean;
}

const ZERO = Buffer.from([0]);

/** How an entry is known: its key, or a digest when the key is over the limit. */
export function entryId(key: Buffer, maxKeyBytes: number): string {
  return key.length <= maxKeyBytes ? key.toString('utf8') : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/**
 * Reads one entry key under `prefix` (`/{root}/{interface}/{category}/`): its URL, or why it is
 * skipped — longer than `maxKeyBytes` (checked before decoding), not one segment, not a URL, or a
 * URL of another interface.
 */
export function readEntry(key: Buffer, prefix: string, iface: string, maxKeyBytes: number): Entry {
  const id = entryId(key, maxKeyBytes);
  const shown = key.subarray(0, 200).toString('utf8') + (key.length > 200 ? '…' : '');
  if (key.length > maxKeyBytes) return { id, url: null, reason: `${key.length} bytes, over maxKeyBytes ${maxKeyBytes}`, shown };
  const segment = id.startsWith(prefix) ? id.slice(prefix.length) : '';
  const url = segment === '' || segment.includes('/') ? undefined : registryLayout.decode(segment);
  if (url === undefined) return { id, url: null, reason: 'not a URL-encoded URL', shown };
  if (url.path !== iface) return { id, url: null, reason: `a URL of ${url.path}, not of ${iface}`, shown };
  return { id, url, shown };
}

/**
 * Lists the keys under `prefix`, keys only (values are never read), in pages of {@link LIST_PAGE}
 * read at the revision of the first page, up to `maxEntries` keys.
 */
export async function listEntries(host: ListHost, prefix: string, iface: string, what: string): Promise<Listing> {
  const range = Range.prefix(prefix);
  const entries: Entry[] = [];
  let from = range.start;
  let revision: string | undefined;
  let page = LIST_PAGE;
  for (;;) {
    const limit = Math.min(page, host.maxEntries - entries.length);
    let res: IRangeResponse;
    try {
      res = await host.call(what, () => host.client.kv.range({ key: from, range_end: range.end, limit, keys_only: true, revision }));
    } catch (err) {
      if (page > 1 && PlexusError.is(err) && err.cause instanceof GRPCResourceExhastedError) {
        page = Math.max(1, page >> 2);
        continue;
      }
      throw err;
    }
    revision ??= res.header.revision;
    for (const kv of res.kvs) entries.push(readEntry(kv.key, prefix, iface, host.maxKeyBytes));
    const last = res.kvs[res.kvs.length - 1];
    if (!res.more || last === undefined) return { entries, revision, more: false };
    if (entries.length >= host.maxEntries) return { entries, revision, more: true };
    from = Buffer.concat([last.key, ZERO]);
  }
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

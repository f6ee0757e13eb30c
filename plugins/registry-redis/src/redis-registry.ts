import Redis, { type RedisOptions } from 'ioredis';
import {
  PlexusError,
  REGISTRY_CATEGORIES,
  URL,
  categoryOf,
  registryLayout,
  subscribedCategories,
  type Logger,
  type NotifyListener,
  type Registry,
  type RegistryCategory,
  type RegistryState,
} from '@plexus/kernel/spi';
import {
  ERR_REDIS_AUTH,
  ERR_REDIS_CLOSED,
  ERR_REDIS_COMMAND,
  ERR_REDIS_ENTRY_TOO_LARGE,
  ERR_REDIS_TIMEOUT,
  ERR_REDIS_UNREACHABLE,
} from './errors';
import { resolveOptions, type RedisRegistryOptions, type ResolvedRedisOptions } from './options';
import { DELETE_SCRIPT, EXPIRE_SCRIPT, KEYS_SCRIPT, PUT_SCRIPT, READ_SCRIPT, type KeysPage, type ReadPage } from './scripts';

/** HSCAN/SCAN page size hint: small enough that one script call never blocks the server for long. */
const PAGE = 256;
/** A lease value is at most 16 digits; anything longer is not ours. */
const MAX_VALUE_BYTES = 20;
/** Key names longer than this are not ours (`/root/interface/category`); `services()` skips them. */
const MAX_KEY_BYTES = 2048;
/** `services()` looks at this many keys at most. */
const SERVICES_SCAN_LIMIT = 100_000;
/** Distinct bad entries warned about; past it, further ones are skipped silently (one notice). */
const WARNED_LIMIT = 10_000;
/** Added to the grace period after a reconnect: the client's longest reconnect backoff. */
const RECONNECT_BACKOFF_MS = 2000;
/** Fields sent to EXPIRE_SCRIPT per call. */
const EXPIRE_BATCH = 256;

/** Categories written by operators, not by a running process: they never expire. */
const PERSISTENT: ReadonlySet<RegistryCategory> = new Set<RegistryCategory>(['routers', 'configurators']);

/** The scripts as commands (ioredis `defineCommand`, EVALSHA with a fallback to EVAL). */
interface ScriptCommands {
  plexusPut(key: string, field: string, lease: number): Promise<string>;
  plexusDelete(key: string, field: string): Promise<number>;
  plexusExpire(key: string, ...fields: string[]): Promise<number>;
  plexusRead(key: string, cursor: string, count: number, maxField: number, maxValue: number): Promise<ReadPage>;
  plexusKeys(cursor: string, pattern: string, count: number, maxKey: number): Promise<KeysPage>;
}
type Client = Redis & ScriptCommands;
interface ScriptPipeline {
  plexusPut(key: string, field: string, lease: number): ScriptPipeline;
  plexusDelete(key: string, field: string): ScriptPipeline;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

/** An entry this instance wrote: renewed while open, removed by close() when leased. */
interface Written {
  readonly key: string;
  readonly field: string;
  /** ms, 0 for entries that never expire. */
  readonly lease: number;
}

/** One watched category hash, shared by every subscription that needs it. */
interface KeyState {
  readonly key: string;
  /** The interface the hash belongs to: entries of another interface are skipped. */
  readonly iface: string;
  refs: number;
  /** Live entries at the last read, sorted by their text. */
  entries: URL[];
  loaded: boolean;
  /** The connection epoch (reconnects so far) when the last successful read started. */
  epoch: number;
  /** SUBSCRIBE of the hash's channel, shared by subscriptions that join while it is in flight. */
  channel?: Promise<void>;
  /** A read is running. */
  running: boolean;
  /** Callers waiting for a read that starts after they asked. */
  next?: Deferred;
}

interface Subscription {
  readonly id: string;
  readonly listener: NotifyListener;
  readonly keys: readonly string[];
  active: boolean;
  /** Has had its first list; from then on it hears every change. */
  ready: boolean;
  /** The entries of the last list delivered, to skip repeats after sweeps and renewals. */
  lastSig?: string;
  /** The last list delivered. */
  lastUrls?: URL[];
  /**
   * During the grace period after a reconnect: entries of the list before it that no read since
   * the reconnect has shown yet. They stay listed until seen or until the grace period ends.
   */
  held?: Map<string, URL>;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function message(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}

/** Reads a field back as a URL; undefined for anything that is not one. */
function decodeField(field: string): URL | undefined {
  try {
    const url = URL.parse(field);
    return url.path ? url : undefined;
  } catch {
    return undefined;
  }
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The `redis` registry: Dubbo's Redis scheme. One hash per interface and category, named by the
 * layout's category path (`/plexus/demo.Greeter/providers`); each field is a registered URL's text,
 * its value the server-clock epoch ms at which the entry expires (`0`: never — routers and
 * configurators). Writers PUBLISH `register`/`unregister` on the hash's own name; subscribers
 * SUBSCRIBE to the hashes they watch on a second connection and re-read the hash (paged, bounded)
 * on every message. Leased entries are renewed every `expirePeriod / 3`; every subscriber re-reads
 * its hashes on that beat too, removes what expired (compare-and-delete on the server) and
 * publishes `unregister`, so a killed provider disappears for everyone.
 *
 * Scope: one instance per application and registry entry; event loop only. Connection loss and
 * return are reported through `onStateChange`; on return the instance re-writes its entries
 * (a Redis restart without persistence has lost them), re-subscribes and re-reads on its own.
 */
export class RedisRegistry implements Registry {
  readonly options: ResolvedRedisOptions;
  private readonly logger: Logger;
  private readonly client: Client;
  private readonly subscriber: Redis;
  private readonly written = new Map<string, Written>();
  private readonly keys = new Map<string, KeyState>();
  private readonly subs = new Set<Subscription>();
  private readonly stateListeners: Array<(state: RegistryState) => void> = [];
  private readonly waiters = new Set<(err: Error) => void>();
  private readonly warned = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private renewing?: Promise<void>;
  private closed = false;
  private up = false;
  /** Until then (after a reconnect) lists only grow: see `deliver`. */
  private graceUntil = 0;
  private graceTimer?: NodeJS.Timeout;
  /** Reconnects so far: tells reads made since the last reconnect from older ones. */
  private epoch = 0;
  private everUp = false;
  private outageLogged = false;
  private lastError = '';

  constructor(options: Readonly<Record<string, unknown>> | RedisRegistryOptions, logger?: Logger) {
    this.options = resolveOptions(options as Readonly<Record<string, unknown>>);
    this.logger = logger ?? (options as RedisRegistryOptions).logger ?? SILENT;
    const o = this.options;
    const common: RedisOptions = {
      host: o.host,
      port: o.port,
      db: o.db,
      ...(o.password ? { password: o.password } : {}),
      connectTimeout: o.requestTimeout,
      commandTimeout: o.requestTimeout,
      // Commands wait for a connection in `ready()` (bounded), never in an unbounded offline queue.
      enableOfflineQueue: false,
      // recover() subscribes again itself: ioredis' own resubscribe leaves its rejection unhandled
      // when the connection drops again at that moment, which would end the process.
      autoResubscribe: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(times * 100, 2000),
      disableClientInfo: true,
      // close() ends the sockets; one the server does not close promptly is destroyed after this,
      // instead of ioredis' 2 s timer holding the process after close().
      disconnectTimeout: Math.min(o.requestTimeout, 500),
      connectionName: 'plexus-registry',
    };
    this.client = new Redis(common) as Client;
    this.subscriber = new Redis(common);
    this.client.defineCommand('plexusPut', { numberOfKeys: 1, lua: PUT_SCRIPT });
    this.client.defineCommand('plexusDelete', { numberOfKeys: 1, lua: DELETE_SCRIPT });
    this.client.defineCommand('plexusExpire', { numberOfKeys: 1, lua: EXPIRE_SCRIPT });
    this.client.defineCommand('plexusRead', { numberOfKeys: 1, lua: READ_SCRIPT });
    this.client.defineCommand('plexusKeys', { numberOfKeys: 0, lua: KEYS_SCRIPT });
    for (const c of [this.client, this.subscriber]) {
      c.on('ready', () => this.linkChanged());
      c.on('close', () => this.linkChanged());
      c.on('end', () => this.linkChanged());
      c.on('error', (err: Error) => this.connectionError(err));
    }
    this.subscriber.on('message', (channel: string) => this.changed(channel));
    this.timer = setInterval(() => this.tick(), Math.floor(o.expirePeriod / 3));
    this.timer.unref();
  }

  async register(url: URL): Promise<void> {
    this.ensureOpen('register');
    const field = url.toString();
    const bytes = Buffer.byteLength(field);
    if (bytes > this.options.maxEntryBytes) throw ERR_REDIS_ENTRY_TOO_LARGE(field, bytes, this.options.maxEntryBytes);
    const category = categoryOf(url);
    const entry: Written = {
      key: registryLayout.category(url.path, category, this.options.root),
      field,
      lease: PERSISTENT.has(category) ? 0 : this.options.expirePeriod,
    };
    const id = `${entry.key}\n${field}`;
    const before = this.written.get(id);
    // Listed before the write, so a renewal running meanwhile includes it.
    this.written.set(id, entry);
    try {
      await this.run('register', () => this.client.plexusPut(entry.key, field, entry.lease));
    } catch (err) {
      // A rejected register leaves nothing behind: the manager owns retries.
      if (before === undefined && this.written.get(id) === entry) this.written.delete(id);
      throw err;
    }
  }

  async unregister(url: URL): Promise<void> {
    if (this.closed) return;
    const key = registryLayout.category(url.path, categoryOf(url), this.options.root);
    const field = url.toString();
    this.written.delete(`${key}\n${field}`);
    // A renewal already on its way must not write the entry back after it was deleted.
    await this.renewing;
    // Also for URLs this instance never wrote: `plexus rule rm` removes an operator's rule this way.
    await this.run('unregister', () => this.client.plexusDelete(key, field));
  }

  async subscribe(url: URL, listener: NotifyListener): Promise<void> {
    this.ensureOpen('subscribe');
    const id = url.toString();
    for (const sub of this.subs) {
      if (sub.id === id && sub.listener === listener) {
        // Again (the manager after a reconnect): read afresh and deliver the list, even if unchanged.
        await Promise.all(sub.keys.map((k) => this.refresh(this.keys.get(k)!)));
        this.deliverSoon(sub);
        return;
      }
    }
    const iface = url.path;
    const keys = subscribedCategories(url).map((c) => registryLayout.category(iface, c, this.options.root));
    const sub: Subscription = { id, listener, keys, active: true, ready: false };
    this.subs.add(sub);
    const states = keys.map((key) => {
      let state = this.keys.get(key);
      if (state === undefined) {
        state = { key, iface, refs: 0, entries: [], loaded: false, epoch: this.epoch, running: false };
        this.keys.set(key, state);
      }
      state.refs++;
      return state;
    });
    try {
      // Subscribed before the first read, so no change falls between the read and the watch.
      await Promise.all(states.map((s) => this.listen(s)));
      await Promise.all(states.map((s) => this.refresh(s)));
    } catch (err) {
      this.drop(sub);
      throw err;
    }
    this.deliverSoon(sub);
  }

  async unsubscribe(url: URL, listener: NotifyListener): Promise<void> {
    const id = url.toString();
    for (const sub of [...this.subs]) if (sub.id === id && sub.listener === listener) this.drop(sub);
  }

  async services(): Promise<string[]> {
    this.ensureOpen('list services');
    const prefix = `${registryLayout.root(this.options.root)}/`;
    const byIface = new Map<string, string[]>();
    let cursor = '0';
    let scanned = 0;
    let skipped = 0;
    do {
      const [next, found, tooLong] = await this.run('list services', () =>
        this.client.plexusKeys(cursor, `${globEscape(prefix)}*`, PAGE, MAX_KEY_BYTES),
      );
      skipped += Number(tooLong) || 0;
      for (const key of found) {
        scanned++;
        const [segment, category, ...rest] = key.slice(prefix.length).split('/');
        if (rest.length > 0 || !(REGISTRY_CATEGORIES as readonly string[]).includes(category)) continue;
        let iface: string;
        try {
          iface = decodeURIComponent(segment);
        } catch {
          continue;
        }
        const keys = byIface.get(iface) ?? [];
        keys.push(key);
        byIface.set(iface, keys);
      }
      cursor = next;
    } while (cursor !== '0' && scanned < SERVICES_SCAN_LIMIT);
    if (cursor !== '0') this.logger.warn(`redis registry: listed the first ${SERVICES_SCAN_LIMIT} keys under ${prefix} only`);
    if (skipped > 0) this.logger.warn(`redis registry: skipped ${skipped} keys under ${prefix} with names over ${MAX_KEY_BYTES} bytes`);
    const out: string[] = [];
    // An interface counts when one of its hashes holds a live entry; reading also clears the dead.
    for (const [iface, keys] of byIface) {
      for (const key of keys) {
        if ((await this.read(key, iface, 'list services')).length > 0) {
          out.push(iface);
          break;
        }
      }
    }
    return out.sort();
  }

  async lookup(url: URL): Promise<URL[]> {
    this.ensureOpen('lookup');
    const keys = subscribedCategories(url).map((c) => registryLayout.category(url.path, c, this.options.root));
    const lists = await Promise.all(keys.map((k) => this.read(k, url.path, 'lookup')));
    return lists.flat();
  }

  onStateChange(listener: (state: RegistryState) => void): void {
    this.stateListeners.push(listener);
  }

  /** Removes this instance's leased entries, stops timers and watches, closes both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.graceTimer);
    for (const sub of this.subs) sub.active = false;
    this.subs.clear();
    this.keys.clear();
    const leased = [...this.written.values()].filter((e) => e.lease > 0);
    this.written.clear();
    const closedError = ERR_REDIS_CLOSED(this.options.address, 'wait for a connection');
    for (const fail of [...this.waiters]) fail(closedError);
    await this.renewing;
    if (leased.length > 0 && this.client.status === 'ready') {
      const pipe = this.client.pipeline() as unknown as ScriptPipeline;
      for (const e of leased) pipe.plexusDelete(e.key, e.field);
      // Best effort: what cannot be deleted now expires within expirePeriod.
      await pipe.exec().catch((err) => this.logger.debug(`redis registry: close could not remove entries: ${message(err)}`));
    }
    // Every command of ours has been answered by now. No QUIT: ioredis keeps its reply timer
    // (requestTimeout) armed after the socket closes, which would hold the process that long.
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  /** SUBSCRIBE to the hash's channel once, shared by everyone who watches it. */
  private listen(state: KeyState): Promise<void> {
    if (state.channel === undefined) {
      const p = this.run('subscribe', () => this.subscriber.subscribe(state.key), this.subscriber).then(() => undefined);
      state.channel = p;
      p.catch(() => {
        if (state.channel === p) state.channel = undefined;
      });
    }
    return state.channel;
  }

  /** Resolves once a read of `state` that started after this call has finished (and was fanned out). */
  private refresh(state: KeyState): Promise<void> {
    if (state.next === undefined) state.next = deferred();
    const waiting = state.next.promise;
    if (!state.running) void this.drain(state);
    return waiting;
  }

  private async drain(state: KeyState): Promise<void> {
    state.running = true;
    try {
      while (state.next !== undefined) {
        const done = state.next;
        state.next = undefined;
        if (this.closed || state.refs === 0) {
          done.resolve();
          continue;
        }
        try {
          const epoch = this.epoch;
          state.entries = await this.read(state.key, state.iface, 'read the entries of');
          state.epoch = epoch;
          state.loaded = true;
          done.resolve();
        } catch (err) {
          done.reject(err);
          continue;
        }
        this.fanOut(state);
      }
    } finally {
      state.running = false;
    }
  }

  /** A message on a watched hash's channel: re-read it (coalesced with reads in flight). */
  private changed(channel: string): void {
    if (this.closed) return;
    const state = this.keys.get(channel);
    if (state !== undefined) this.refresh(state).catch((err) => this.readFailed(state, err));
  }

  private readFailed(state: KeyState, err: unknown): void {
    const text = `redis registry: cannot read ${state.key}, subscribers keep the last list: ${message(err)}`;
    // While disconnected the state change says it all. Connected, a failure that repeats on every
    // beat (a key of another type, WRONGTYPE) is worth one warning, not one per beat.
    if (this.up) this.warnOnce(`${state.key}\n${PlexusError.is(err) ? err.code : ''}`, text, { key: state.key });
    else this.logger.debug(text);
  }

  private fanOut(state: KeyState): void {
    for (const sub of this.subs) if (sub.ready && sub.keys.includes(state.key)) this.deliver(sub, false);
  }

  /** The first list (or the list again after a repeated subscribe), after the subscribe call returned. */
  private deliverSoon(sub: Subscription): void {
    setImmediate(() => {
      if (!sub.active) return;
      sub.ready = true;
      this.deliver(sub, true);
    });
  }

  private deliver(sub: Subscription, force: boolean): void {
    if (!sub.active) return;
    const states = sub.keys.map((k) => this.keys.get(k));
    if (states.some((s) => s === undefined || !s.loaded)) return;
    let urls = states.flatMap((s) => s!.entries);
    if (sub.held !== undefined && Date.now() >= this.graceUntil) sub.held = undefined;
    if (sub.held !== undefined) {
      // A Redis restarted without persistence is empty until every provider wrote itself back
      // (at once on its own reconnect, at the latest on its next renewal beat). Until then an
      // entry of the list before the outage that no fresh read has shown is not taken as gone:
      // no caller loses all its providers to a registry restart. Once seen again, an entry's
      // removal counts at once; the others go when the grace period ends.
      for (const s of states) if (s!.epoch === this.epoch) for (const u of s!.entries) sub.held.delete(u.toString());
      const have = new Set(urls.map(String));
      const kept = [...sub.held.values()].filter((u) => !have.has(u.toString()));
      if (kept.length > 0) urls = [...urls, ...kept].sort((a, b) => (a.toString() < b.toString() ? -1 : 1));
    }
    const sig = urls.join('\n');
    if (!force && sig === sub.lastSig) return;
    sub.lastSig = sig;
    sub.lastUrls = urls;
    try {
      sub.listener(urls);
    } catch (err) {
      this.logger.error(`redis registry: a subscriber of ${sub.id} threw: ${message(err)}`);
    }
  }

  private drop(sub: Subscription): void {
    sub.active = false;
    this.subs.delete(sub);
    const unused: string[] = [];
    for (const key of sub.keys) {
      const state = this.keys.get(key);
      if (state === undefined) continue;
      if (--state.refs <= 0) {
        this.keys.delete(key);
        unused.push(key);
      }
    }
    if (unused.length > 0 && !this.closed && this.subscriber.status === 'ready') {
      this.subscriber.unsubscribe(...unused).catch((err) => this.logger.debug(`redis registry: unsubscribe failed: ${message(err)}`));
    }
  }

  /**
   * Reads the live entries of one hash: paged and filtered on the server, at most `maxEntries`
   * fields of at most `maxEntryBytes`; bad entries skipped with one warning each; expired ones
   * removed in the background.
   */
  private async read(key: string, iface: string, what: string): Promise<URL[]> {
    const { maxEntries, maxEntryBytes } = this.options;
    const fields = new Map<string, string>();
    const maxPages = Math.ceil(maxEntries / PAGE) * 4 + 8;
    let cursor = '0';
    let pages = 0;
    let seen = 0;
    let now = 0;
    do {
      const [next, nowText, length, kept, oversized] = await this.run(`${what} ${key}`, () =>
        this.client.plexusRead(key, cursor, PAGE, maxEntryBytes, MAX_VALUE_BYTES),
      );
      if (pages === 0 && length > maxEntries) {
        this.warnOnce(`${key}\n#length`, `redis registry: ${key} holds ${length} entries, more than maxEntries (${maxEntries}); only ${maxEntries} are read`, { key });
      }
      pages++;
      now = Number(nowText);
      for (let i = 0; i + 1 < kept.length && fields.size < maxEntries; i += 2) fields.set(kept[i], kept[i + 1]);
      for (let i = 0; i + 1 < oversized.length; i += 2) {
        const name = String(oversized[i]);
        this.warnOnce(`${key}\n${name}`, `redis registry: skipped an entry of ${key} of ${oversized[i + 1]} bytes (more than maxEntryBytes ${maxEntryBytes}): ${name}…`, { key, entry: name });
      }
      seen += (kept.length + oversized.length) / 2;
      cursor = String(next);
    } while (cursor !== '0' && fields.size < maxEntries && seen < 2 * maxEntries && pages < maxPages);

    const urls = new Map<string, URL>();
    const expired: string[] = [];
    for (const [field, value] of fields) {
      if (!/^\d{1,16}$/.test(value)) {
        this.warnOnce(`${key}\n${field}`, `redis registry: skipped an entry of ${key} whose value is not an expiry time: ${field.slice(0, 200)}`, { key, entry: field.slice(0, 200) });
        continue;
      }
      const at = Number(value);
      if (at !== 0 && at <= now) {
        expired.push(field);
        continue;
      }
      const url = decodeField(field);
      if (url === undefined || (url.path !== iface && url.params.interface !== iface)) {
        this.warnOnce(`${key}\n${field}`, `redis registry: skipped an entry of ${key} that is not a URL of ${iface}: ${field.slice(0, 200)}`, { key, entry: field.slice(0, 200) });
        continue;
      }
      urls.set(url.toString(), url);
    }
    if (expired.length > 0) void this.expire(key, expired);
    return [...urls.keys()].sort().map((k) => urls.get(k)!);
  }

  /** Removes entries seen expired (if still expired on the server) and tells the other subscribers. */
  private async expire(key: string, fields: string[]): Promise<void> {
    try {
      for (let i = 0; i < fields.length; i += EXPIRE_BATCH) {
        const removed = await this.run(`remove expired entries of ${key}`, () => this.client.plexusExpire(key, ...fields.slice(i, i + EXPIRE_BATCH)));
        if (removed > 0) this.logger.info(`redis registry: removed ${removed} expired entries of ${key}`, { key });
      }
    } catch (err) {
      this.logger.debug(`redis registry: could not remove expired entries of ${key}: ${message(err)}`);
    }
  }

  /** The beat, every expirePeriod/3: renew leases, re-read watched hashes (which clears the expired). */
  private tick(): void {
    if (this.closed || !this.up) return;
    if (this.renewing === undefined) void this.renew(false);
    for (const state of this.keys.values()) this.refresh(state).catch((err) => this.readFailed(state, err));
  }

  /** Re-writes leased entries (all entries when `all`, after a reconnect) in one pipeline. */
  private renew(all: boolean): Promise<void> {
    const entries = [...this.written.values()].filter((e) => all || e.lease > 0);
    if (entries.length === 0 || this.client.status !== 'ready') return Promise.resolve();
    const pipe = this.client.pipeline() as unknown as ScriptPipeline;
    for (const e of entries) pipe.plexusPut(e.key, e.field, e.lease);
    const run = pipe
      .exec()
      .then((results) => {
        const failed = (results ?? []).filter(([err]) => err !== null);
        if (failed.length > 0) this.logger.warn(`redis registry: ${failed.length} of ${entries.length} entries could not be renewed: ${message(failed[0][0])}`);
      })
      .catch((err) => this.logger.warn(`redis registry: renewing ${entries.length} entries failed: ${message(err)}`))
      .finally(() => {
        if (this.renewing === run) this.renewing = undefined;
      });
    this.renewing = run;
    return run;
  }

  /** Both connections ready or not: report the edge, and recover after a return. */
  private linkChanged(): void {
    if (this.closed) return;
    const up = this.client.status === 'ready' && this.subscriber.status === 'ready';
    if (up === this.up) return;
    this.up = up;
    if (!up) {
      this.logger.warn(`redis registry: lost the connection to ${this.options.address}; reconnecting`);
      this.emit('disconnected');
      return;
    }
    this.outageLogged = false;
    this.lastError = '';
    const state: RegistryState = this.everUp ? 'reconnected' : 'connected';
    this.everUp = true;
    if (state === 'reconnected') {
      this.startGrace();
      this.logger.info(`redis registry: connected to ${this.options.address} again; writing entries and re-reading watches`);
      void this.recover();
    }
    this.emit(state);
  }

  /**
   * Opens the grace period after a reconnect: one renewal beat plus the longest reconnect backoff,
   * the time every live provider needs to write its entries back. At its end every watched hash
   * is read again and subscribers get the true lists.
   */
  private startGrace(): void {
    const ms = Math.floor(this.options.expirePeriod / 3) + RECONNECT_BACKOFF_MS;
    this.graceUntil = Date.now() + ms;
    this.epoch++;
    for (const sub of this.subs) {
      // Across back-to-back outages, what is still held stays held.
      const held = sub.held ?? new Map<string, URL>();
      for (const u of sub.lastUrls ?? []) held.set(u.toString(), u);
      sub.held = held;
    }
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => {
      this.graceUntil = 0;
      for (const sub of this.subs) sub.held = undefined;
      for (const state of this.keys.values()) this.refresh(state).catch((err) => this.readFailed(state, err));
    }, ms);
    this.graceTimer.unref();
  }

  /** After a reconnect: the server may have restarted empty. Write back, watch again, re-read. */
  private async recover(): Promise<void> {
    try {
      const channels = [...this.keys.keys()];
      if (channels.length > 0) await this.run('subscribe again', () => this.subscriber.subscribe(...channels), this.subscriber);
      await this.renew(true);
      await Promise.all([...this.keys.values()].map((s) => this.refresh(s)));
    } catch (err) {
      if (!this.closed) this.logger.warn(`redis registry: recovering after a reconnect failed (${message(err)}); the next beat retries`);
    }
  }

  private connectionError(err: Error): void {
    this.lastError = message(err);
    if (this.closed) return;
    if (!this.outageLogged) {
      this.outageLogged = true;
      this.logger.warn(`redis registry: ${this.options.address}: ${this.lastError}`);
    } else {
      this.logger.debug(`redis registry: ${this.options.address}: ${this.lastError}`);
    }
  }

  private emit(state: RegistryState): void {
    for (const listener of this.stateListeners) {
      try {
        listener(state);
      } catch (err) {
        this.logger.error(`redis registry: a state listener threw: ${message(err)}`);
      }
    }
  }

  /** Runs one command once `client` is connected (bounded wait), translating errors to coded ones. */
  private async run<T>(what: string, op: () => Promise<T>, client: Redis = this.client): Promise<T> {
    await this.ready(client, what);
    try {
      return await op();
    } catch (err) {
      throw this.translate(err, what);
    }
  }

  private ready(client: Redis, what: string): Promise<void> {
    if (this.closed) return Promise.reject(ERR_REDIS_CLOSED(this.options.address, what));
    if (client.status === 'ready') return Promise.resolve();
    const ms = this.options.requestTimeout;
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: Error) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        this.waiters.delete(settle);
        if (err) reject(err);
        else resolve();
      };
      const onReady = () => settle();
      const timer = setTimeout(() => {
        const cause = this.lastError;
        settle(/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(cause) ? ERR_REDIS_AUTH(this.options.address, cause) : ERR_REDIS_UNREACHABLE(this.options.address, what, ms, cause));
      }, ms);
      client.once('ready', onReady);
      this.waiters.add(settle);
    });
  }

  private translate(err: unknown, what: string): Error {
    if (PlexusError.is(err)) return err;
    const text = message(err);
    const address = this.options.address;
    if (/Command timed out/i.test(text)) return ERR_REDIS_TIMEOUT(address, what, this.options.requestTimeout);
    if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(text)) return ERR_REDIS_AUTH(address, text);
    if (/Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|MaxRetriesPerRequest|Command aborted/i.test(text)) {
      return ERR_REDIS_UNREACHABLE(address, what, this.options.requestTimeout, text);
    }
    return ERR_REDIS_COMMAND(address, what, text);
  }

  private warnOnce(entry: string, text: string, fields: Record<string, unknown>): void {
    // Keyed by a prefix and the length, so remembering 10k bad entries costs ~2 MB at most.
    const id = `${entry.slice(0, 200)}\n${entry.length}`;
    if (this.warned.has(id)) return;
    if (this.warned.size >= WARNED_LIMIT) {
      if (this.warned.size === WARNED_LIMIT) {
        this.warned.add('#full');
        this.logger.warn(`redis registry: ${WARNED_LIMIT} bad entries reported; further ones are skipped without a warning`);
      }
      return;
    }
    this.warned.add(id);
    this.logger.warn(text, fields);
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw ERR_REDIS_CLOSED(this.options.address, what);
  }
}

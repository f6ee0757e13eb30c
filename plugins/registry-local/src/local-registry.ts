import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  categoryOf,
  DEFAULT_REGISTRY_ROOT,
  PlexusError,
  subscribedCategories,
  type Logger,
  type NotifyListener,
  type Registry,
  type RegistryCategory,
  type RegistryState,
  type URL,
} from '@plexus/kernel/spi';
import {
  entryName,
  errnoOf,
  interfaceFolderName,
  interfaceOfFolder,
  LEASES_FOLDER,
  MAX_NAME_BYTES,
  newLeaseId,
  PERSISTENT_CATEGORIES,
  pidAlive,
  pidNamespace,
  readEntry,
  removeFile,
  rootSegments,
  TEMP_MAX_AGE_MS,
  writeAtomic,
  type Entry,
  type EntryRecord,
} from './entry-files';
import {
  ERR_LOCAL_REGISTRY_BAD_OPTIONS,
  ERR_LOCAL_REGISTRY_CLOSED,
  ERR_LOCAL_REGISTRY_IO,
  ERR_LOCAL_REGISTRY_TIMEOUT,
  ERR_LOCAL_REGISTRY_TOO_LARGE,
} from './errors';

/** Defaults of {@link LocalRegistryOptions}; the README gives the reasons. */
export const LOCAL_REGISTRY_DEFAULTS = {
  /** The shared folder: every process of the machine finds it without configuration. */
  dir: path.join(os.tmpdir(), 'plexus-registry'),
  heartbeat: 1000,
  /** `ttl` defaults to this many heartbeats. */
  ttlHeartbeats: 3,
  pollInterval: 500,
  watch: true,
  timeout: 5000,
  maxEntrySize: 64 * 1024,
} as const;

/** Options of {@link LocalRegistry} (`registry: { type: local, ... }` in plexus.yaml). */
export interface LocalRegistryOptions {
  /**
   * The folder shared by the processes of one machine. Default `<os tmpdir>/plexus-registry`, so
   * processes find each other with no configuration. Relative paths resolve against the working
   * directory.
   */
  dir?: string;
  /** The same as `dir`: the config turns `local:///abs/dir` into `{ type: 'local', address: '/abs/dir' }`. */
  address?: string;
  /** The top folder under `dir` (Dubbo's root node). Default `plexus`. */
  root?: string;
  /**
   * Milliseconds between lease renewals (and checks that this instance's entries are still on
   * disk). Default 1000: one `utimes` a second per instance costs nothing, and entries of a
   * process that stopped renewing go away a few seconds later.
   */
  heartbeat?: number;
  /**
   * Milliseconds after the last renewal at which this instance's provider and consumer entries
   * count as gone. Default 3 × heartbeat: two renewals may be late (a busy event loop) before
   * others drop the entries. Must exceed `heartbeat`. Only matters when the pid check cannot
   * apply (another host name or PID namespace, a reused pid): a dead pid of this machine counts
   * as gone at once.
   */
  ttl?: number;
  /**
   * Milliseconds between rescans of the watched folders. Default 500. Catches what `fs.watch`
   * misses (some file systems never report changes), expired leases and dead processes, which
   * change no file: it bounds how late such a change is seen.
   */
  pollInterval?: number;
  /** Use `fs.watch` for prompt notice of changes; false polls only. Default true. */
  watch?: boolean;
  /** Milliseconds a register, unregister, subscribe, lookup or close may take before it rejects. Default 5000. */
  timeout?: number;
  /**
   * Largest entry file, in bytes, that is read (larger files are skipped with a warning) or
   * written (register rejects). Default 64 KiB: a provider URL with every method listed stays far
   * below it, and a reader never spends more than this on one file.
   */
  maxEntrySize?: number;
  /**
   * The host name recorded in entries. The pid check applies only to entries whose host name (and
   * Linux PID namespace) match the reader's. Default `os.hostname()`.
   */
  hostname?: string;
  /** Where warnings go (garbage files, fs.watch unavailable, lost leases). */
  logger?: Logger;
}

/** A folder of entries under watch, or read for a lookup: the decoded entries by file name, cached. */
interface Folder {
  readonly path: string;
  readonly iface: string;
  readonly category: RegistryCategory;
  /** Valid entries by file name. A name pins its content, so an entry is read once. */
  readonly entries: Map<string, Entry>;
  /** Garbage files by name, with the stat signature they had when last read. */
  readonly garbage: Map<string, string>;
  readonly subs: Set<Subscription>;
  /** The live URLs at the last scan, sorted, and their keys joined. */
  live: URL[];
  liveKey: string;
  /** Whether a scan completed: a subscriber of several folders waits for all, never hearing a part. */
  scanned: boolean;
  /** Why the last scan could not read the folder (warned once until it can). */
  readError?: string;
  watcher?: fs.FSWatcher;
  /** Identity (inode and birth time) of the folder watched: one removed and made again needs a new watcher. */
  watchedId?: string;
  running?: Promise<void>;
  queued?: Promise<void>;
}

/** One subscribe call. */
interface Subscription {
  readonly key: string;
  readonly listener: NotifyListener;
  readonly folders: Folder[];
  active: boolean;
  scheduled: boolean;
  /** Deliver even when the list did not change (the first notice, a repeated subscribe). */
  force: boolean;
  lastKey?: string;
}

/** One leased entry this instance registered. */
interface Owned {
  readonly url: URL;
  readonly key: string;
  readonly folder: string;
  /** The file last written for it (its name changes with the lease). */
  file?: string;
}

/** The current lease of an instance. */
interface Lease {
  readonly id: string;
  readonly file: string;
}

/**
 * Lease ids of every open instance of this process: never reaped by this process's own scans.
 * Shared through a global symbol, so two copies of this package in one process agree.
 */
const ownLeases: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('plexus.registry-local.ownLeases')] ??= new Set<string>()) as Set<string>;
/** Open instances holding entries, cleaned up synchronously if the process exits without close(). */
const holders = new Set<LocalRegistry>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const r of holders) r.removeOwnFilesSync();
  });
}

const fallbackLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => process.emitWarning(fields ? `${message} ${JSON.stringify(fields)}` : message, 'PlexusLocalRegistry'),
  error: (message, fields) => process.emitWarning(fields ? `${message} ${JSON.stringify(fields)}` : message, 'PlexusLocalRegistry'),
};

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw ERR_LOCAL_REGISTRY_BAD_OPTIONS(`${name} must be a positive number of ms or bytes, got ${JSON.stringify(value)}`);
  return n;
}

function describe(err: unknown): string {
  const code = errnoOf(err);
  const message = (err as Error)?.message ?? String(err);
  return code && !message.startsWith(code) ? `${code}: ${message}` : message;
}

/**
 * The embedded default registry: a folder shared by the processes of one machine. Each entry is
 * a small JSON file (`{ url, pid, host, lease, ttl }`) under
 * `<dir>/<root>/<encoded interface>/<category>/`, named by a hash of its URL, written atomically
 * (temp file and rename) so readers never see a part of one.
 *
 * Provider and consumer entries are leased: each instance keeps one lease file under
 * `<dir>/<root>/.leases/` and renews it every `heartbeat` (a `utimes`); an entry counts as gone
 * once its lease was not renewed for `ttl`, or at once when its pid is dead on this machine, and
 * whoever notices removes it. Routers and configurators never expire. A renewal writes no entry,
 * so watchers wake only for real changes.
 *
 * Subscribers are told of changes through `fs.watch` on the category folders, backed by a rescan
 * every `pollInterval` (which also notices lapsed leases and dead processes); a listener is called
 * only when its decoded list changed. Timers and watchers are unref'd: an open instance never
 * keeps a process alive. Scope: one instance per application; any number of processes and
 * instances may share a folder.
 */
export class LocalRegistry implements Registry {
  /** The folder shared by the processes (`dir`). */
  readonly dir: string;
  /** `<dir>/<root>`: interface folders and the leases folder. */
  readonly base: string;
  readonly heartbeat: number;
  readonly ttl: number;
  readonly pollInterval: number;
  readonly watch: boolean;
  readonly timeout: number;
  readonly maxEntrySize: number;
  readonly hostname: string;
  private readonly pidns = pidNamespace();
  private readonly logger: Logger;
  private readonly folders = new Map<string, Folder>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly owned = new Map<string, Owned>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly stateListeners: Array<(state: RegistryState) => void> = [];
  private lease?: Lease;
  private leasing?: Promise<Lease>;
  private lastRenewal = 0;
  private offline = false;
  private beating = false;
  private heartbeatTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private watchWarned = false;
  private dirChecked = false;
  private closed = false;

  constructor(options: LocalRegistryOptions = {}) {
    this.logger = options.logger ?? fallbackLogger;
    const dir = typeof options.dir === 'string' && options.dir !== '' ? options.dir : undefined;
    const address = typeof options.address === 'string' && options.address !== '' ? options.address : undefined;
    if (dir !== undefined && address !== undefined && path.resolve(dir) !== path.resolve(address)) {
      throw ERR_LOCAL_REGISTRY_BAD_OPTIONS(`dir "${dir}" and address "${address}" name different folders; give one of them`);
    }
    this.dir = path.resolve(dir ?? address ?? LOCAL_REGISTRY_DEFAULTS.dir);
    const root = options.root ?? DEFAULT_REGISTRY_ROOT;
    const segments = typeof root === 'string' ? rootSegments(root) : undefined;
    if (segments === undefined) throw ERR_LOCAL_REGISTRY_BAD_OPTIONS(`root ${JSON.stringify(root)} is not a relative folder path (no "." or ".." segments)`);
    this.base = path.join(this.dir, ...segments);
    this.heartbeat = positive('heartbeat', options.heartbeat, LOCAL_REGISTRY_DEFAULTS.heartbeat);
    this.ttl = positive('ttl', options.ttl, this.heartbeat * LOCAL_REGISTRY_DEFAULTS.ttlHeartbeats);
    if (this.ttl <= this.heartbeat) {
      throw ERR_LOCAL_REGISTRY_BAD_OPTIONS(`ttl (${this.ttl} ms) must exceed heartbeat (${this.heartbeat} ms), or every lease lapses between two renewals`);
    }
    this.pollInterval = positive('pollInterval', options.pollInterval, LOCAL_REGISTRY_DEFAULTS.pollInterval);
    this.timeout = positive('timeout', options.timeout, LOCAL_REGISTRY_DEFAULTS.timeout);
    this.maxEntrySize = Math.floor(positive('maxEntrySize', options.maxEntrySize, LOCAL_REGISTRY_DEFAULTS.maxEntrySize));
    this.watch = options.watch ?? LOCAL_REGISTRY_DEFAULTS.watch;
    this.hostname = typeof options.hostname === 'string' && options.hostname !== '' ? options.hostname : os.hostname();
  }

  // ---------------------------------------------------------------------------------------------
  // Registry SPI

  async register(url: URL): Promise<void> {
    this.ensureOpen('register');
    void this.checkDir();
    const key = url.toString();
    const category = categoryOf(url);
    const folder = this.folderPath(url.path, category);
    if (PERSISTENT_CATEGORIES.has(category)) {
      const content = this.serialize(this.record(key));
      await this.timed(`register ${key}`, this.locked(key, () => this.io('write', folder, () => writeAtomic(folder, entryName(key), content))));
      return;
    }
    // Checked before anything is written: readers would skip an entry over the limit.
    this.serialize(this.record(key, '0'.repeat(16)));
    let own = this.owned.get(key);
    if (own === undefined) this.owned.set(key, (own = { url, key, folder }));
    const mine = own;
    try {
      await this.timed(
        `register ${key}`,
        this.locked(key, async () => {
          const lease = await this.ensureLease();
          if (this.owned.get(key) === mine) await this.ensureWritten(mine, lease);
        }),
      );
    } catch (err) {
      // A timed-out write may still land: keep the entry ours so the heartbeat finishes it and close() removes it.
      if (!PlexusError.is(err, ERR_LOCAL_REGISTRY_TIMEOUT.code) && this.owned.get(key) === mine) this.owned.delete(key);
      throw err;
    }
  }

  async unregister(url: URL): Promise<void> {
    const key = url.toString();
    const category = categoryOf(url);
    if (PERSISTENT_CATEGORIES.has(category)) {
      this.ensureOpen('unregister');
      const folder = this.folderPath(url.path, category);
      const file = path.join(folder, entryName(key));
      await this.timed(`unregister ${key}`, this.locked(key, () => this.io('remove', file, () => removeFile(file))));
      return;
    }
    const own = this.owned.get(key);
    if (own === undefined) return;
    this.owned.delete(key);
    await this.timed(
      `unregister ${key}`,
      this.locked(key, async () => {
        if (own.file !== undefined) await this.io('remove', own.file, () => removeFile(own.file!));
      }),
    );
  }

  async subscribe(url: URL, listener: NotifyListener): Promise<void> {
    this.ensureOpen('subscribe');
    void this.checkDir();
    const key = url.toString();
    for (const s of this.subscriptions) {
      if (s.key === key && s.listener === listener) {
        // The manager subscribes again after a reconnect: hand over the current list, once.
        await this.timed(`subscribe ${key}`, Promise.all(s.folders.map((f) => this.scan(f))));
        this.schedule(s, true);
        return;
      }
    }
    const folders = subscribedCategories(url).map((c) => this.folder(url.path, c));
    const sub: Subscription = { key, listener, folders, active: true, scheduled: false, force: true };
    this.subscriptions.add(sub);
    for (const f of folders) f.subs.add(sub);
    try {
      await this.timed(`subscribe ${key}`, Promise.all(folders.map((f) => this.open(f))));
    } catch (err) {
      this.cancel(sub);
      throw err;
    }
    if (!sub.active) return;
    // Still forced unless the scan above already delivered the first list.
    this.schedule(sub, false);
    this.pollTimer ??= setInterval(() => this.poll(), this.pollInterval).unref();
  }

  async unsubscribe(url: URL, listener: NotifyListener): Promise<void> {
    const key = url.toString();
    for (const s of [...this.subscriptions]) if (s.key === key && s.listener === listener) this.cancel(s);
  }

  /** Interfaces with at least one live entry in any category, sorted. */
  async services(): Promise<string[]> {
    this.ensureOpen('list services');
    void this.checkDir();
    return this.timed('services()', this.listServices());
  }

  /** The live entries of `url`'s subscribed categories of interface `url.path`, read now. */
  async lookup(url: URL): Promise<URL[]> {
    this.ensureOpen('lookup');
    void this.checkDir();
    const folders = subscribedCategories(url).map((c) => this.folder(url.path, c));
    await this.timed(`lookup ${url.toString()}`, Promise.all(folders.map((f) => this.scan(f))));
    for (const f of folders) if (f.readError !== undefined) throw ERR_LOCAL_REGISTRY_IO('read', f.path, f.readError);
    return merge(folders);
  }

  /**
   * `disconnected`: the heartbeat cannot renew the lease or rewrite an entry (the folder became
   * unwritable, the disk is full). `connected`: it can again, and the lease never lapsed.
   * `reconnected`: it can again after the lease lapsed or was removed by another process, so the
   * entries were gone for a while; they are already written back when this is reported.
   */
  onStateChange(listener: (state: RegistryState) => void): void {
    this.stateListeners.push(listener);
  }

  /** Removes this instance's provider and consumer entries and its lease; stops timers and watchers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    for (const s of [...this.subscriptions]) this.cancel(s);
    for (const f of this.folders.values()) this.unwatch(f);
    this.folders.clear();
    const owned = [...this.owned.values()];
    this.owned.clear();
    try {
      await this.timed(
        'close()',
        (async () => {
          await Promise.all(owned.map((o) => this.locked(o.key, () => (o.file === undefined ? undefined : removeFile(o.file)))));
          if (this.leasing) await this.leasing.catch(() => undefined);
          if (this.lease) await removeFile(this.lease.file);
        })(),
      );
    } catch (err) {
      // Other processes drop what is left once this process is gone (dead pid) or its lease lapsed.
      this.logger.warn(`local registry: close() could not remove every entry: ${describe(err)}`, { dir: this.base });
    } finally {
      if (this.lease) ownLeases.delete(this.lease.id);
      holders.delete(this);
    }
  }

  /** For the process 'exit' hook: removes what close() would, synchronously. */
  removeOwnFilesSync(): void {
    for (const o of this.owned.values()) {
      try {
        if (o.file !== undefined) fs.unlinkSync(o.file);
      } catch {
        // Gone already, or never written.
      }
    }
    try {
      if (this.lease) fs.unlinkSync(this.lease.file);
    } catch {
      // Gone already.
    }
  }

  /**
   * Warns once when the folder (`dir`, or `<dir>/<root>`) is open to other local users: whoever
   * can write it can list providers that consumers here will call. A sticky world-writable `dir`
   * (as `/tmp`) is fine as long as `<dir>/<root>` is this user's.
   */
  private async checkDir(): Promise<void> {
    if (this.dirChecked || typeof process.getuid !== 'function') return;
    this.dirChecked = true;
    const uid = process.getuid();
    for (const folder of [this.dir, this.base]) {
      const stat = await fsp.stat(folder).catch(() => undefined);
      if (stat === undefined) return;
      if (stat.uid !== uid && stat.uid !== 0) {
        this.logger.warn(
          `local registry: ${folder} belongs to uid ${stat.uid}, not to this process (uid ${uid}): that user can list providers this process will call; give \`dir\` a folder of your own unless the sharing is intended`,
          { dir: folder },
        );
        return;
      }
      if ((stat.mode & 0o002) !== 0 && (stat.mode & 0o1000) === 0) {
        this.logger.warn(`local registry: ${folder} is writable by every local user: anyone can add or remove entries; chmod o-w it`, { dir: folder });
        return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Leases and own entries

  private record(key: string, lease?: string): EntryRecord {
    return {
      url: key,
      pid: process.pid,
      host: this.hostname,
      ...(this.pidns !== undefined ? { pidns: this.pidns } : {}),
      ...(lease !== undefined ? { lease, ttl: this.ttl } : {}),
      createdAt: Date.now(),
    };
  }

  private serialize(record: EntryRecord): string {
    const text = JSON.stringify(record);
    const size = Buffer.byteLength(text);
    if (size > this.maxEntrySize) throw ERR_LOCAL_REGISTRY_TOO_LARGE(`the entry of ${record.url.slice(0, 120)}…`, size, this.maxEntrySize);
    return text;
  }

  /** The current lease, created on first need (one per instance, shared by its entries). */
  private ensureLease(): Promise<Lease> {
    if (this.lease) return Promise.resolve(this.lease);
    if (!this.leasing) {
      this.leasing = this.createLease().finally(() => {
        this.leasing = undefined;
      });
    }
    return this.leasing;
  }

  private async createLease(): Promise<Lease> {
    const id = newLeaseId();
    const folder = path.join(this.base, LEASES_FOLDER);
    const file = path.join(folder, `${id}.json`);
    const content = JSON.stringify({ pid: process.pid, host: this.hostname, pidns: this.pidns, ttl: this.ttl, createdAt: Date.now() });
    // Registered before the file exists: this process's scans must never reap a lease it is creating.
    ownLeases.add(id);
    try {
      await this.io('write', file, () => writeAtomic(folder, `${id}.json`, content));
    } catch (err) {
      ownLeases.delete(id);
      throw err;
    }
    const lease = { id, file };
    this.lease = lease;
    this.lastRenewal = Date.now();
    holders.add(this);
    installExitHook();
    if (!this.closed) this.heartbeatTimer ??= setInterval(() => void this.beat(), this.heartbeat).unref();
    void this.sweepLeases(folder, id);
    return lease;
  }

  /** Writes `own`'s file under the current lease unless it is there already. */
  private async ensureWritten(own: Owned, lease: Lease): Promise<boolean> {
    const file = path.join(own.folder, entryName(own.key, lease.id));
    if (own.file === file) {
      try {
        await fsp.stat(file);
        return false;
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw ERR_LOCAL_REGISTRY_IO('check', file, describe(err));
      }
    }
    const content = this.serialize(this.record(own.key, lease.id));
    await this.io('write', file, () => writeAtomic(own.folder, path.basename(file), content));
    const previous = own.file;
    own.file = file;
    if (previous !== undefined && previous !== file) await removeFile(previous).catch(() => undefined);
    return true;
  }

  /** One heartbeat: renew the lease, put back any own entry that disappeared, report state changes. */
  private async beat(): Promise<void> {
    // Without a lease (a lost one could not be replaced yet) the beat goes on trying to make one.
    if (this.beating || this.closed || (!this.lease && this.owned.size === 0)) return;
    this.beating = true;
    let lost = false;
    try {
      const now = new Date();
      if (!this.lease) lost = true;
      else {
        try {
          await fsp.utimes(this.lease.file, now, now);
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT') throw err;
          // Another process took the lease for dead (this one was frozen longer than ttl): start a new one.
          lost = true;
          this.logger.warn('local registry: lease was removed by another process (was this process stalled longer than ttl?); registering again', {
            lease: this.lease.id,
            ttl: this.ttl,
          });
          ownLeases.delete(this.lease.id);
          this.lease = undefined;
        }
      }
      const lease = await this.ensureLease();
      if (Date.now() - this.lastRenewal > this.ttl) lost = true;
      let rewritten = false;
      for (const own of [...this.owned.values()]) {
        if (this.closed) return;
        rewritten = (await this.locked(own.key, () => (this.owned.get(own.key) === own ? this.ensureWritten(own, lease) : false))) || rewritten;
      }
      this.lastRenewal = Date.now();
      if (lost || (rewritten && this.offline)) {
        this.offline = false;
        this.emit('reconnected');
      } else if (this.offline) {
        this.offline = false;
        this.emit('connected');
      }
    } catch (err) {
      if (!this.offline && !this.closed) {
        this.offline = true;
        this.logger.warn(`local registry: cannot renew the lease or rewrite entries: ${describe(err)}`, { dir: this.base });
        this.emit('disconnected');
      }
    } finally {
      this.beating = false;
    }
  }

  /** Removes lease files nobody renewed for a long time (their owners died holding no entry). */
  private async sweepLeases(folder: string, mine: string): Promise<void> {
    const maxAge = Math.max(TEMP_MAX_AGE_MS, 10 * this.ttl);
    try {
      const now = Date.now();
      for (const name of await fsp.readdir(folder)) {
        if (name === `${mine}.json` || !name.endsWith('.json') || ownLeases.has(name.slice(0, -5))) continue;
        const stat = await fsp.stat(path.join(folder, name)).catch(() => undefined);
        if (stat !== undefined && now - stat.mtimeMs > maxAge) await removeFile(path.join(folder, name)).catch(() => undefined);
      }
    } catch {
      // Housekeeping only.
    }
  }

  private emit(state: RegistryState): void {
    for (const l of this.stateListeners) {
      try {
        l(state);
      } catch (err) {
        this.logger.error(`local registry: state listener failed: ${describe(err)}`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Folders, scans and notifications

  private folderPath(iface: string, category: RegistryCategory): string {
    const name = interfaceFolderName(iface);
    if (name.length > MAX_NAME_BYTES) throw ERR_LOCAL_REGISTRY_TOO_LARGE(`the folder name of interface "${iface.slice(0, 60)}…"`, name.length, MAX_NAME_BYTES);
    return path.join(this.base, name, category);
  }

  private folder(iface: string, category: RegistryCategory): Folder {
    const p = this.folderPath(iface, category);
    let f = this.folders.get(p);
    if (f === undefined) {
      f = { path: p, iface, category, entries: new Map(), garbage: new Map(), subs: new Set(), live: [], liveKey: '', scanned: false };
      this.folders.set(p, f);
    }
    return f;
  }

  /** Makes sure a subscribed folder exists and is watched, then scans it. */
  private async open(f: Folder): Promise<void> {
    await this.io('create', f.path, () => fsp.mkdir(f.path, { recursive: true }));
    await this.watchFolder(f);
    await this.scan(f);
    if (f.readError !== undefined) throw ERR_LOCAL_REGISTRY_IO('read', f.path, f.readError);
  }

  /**
   * Watches `f` unless its watcher is already on the folder now at its path. A folder removed
   * (an operator's `rm -rf`) silences its watcher without an error, so every poll compares identities.
   */
  private async watchFolder(f: Folder): Promise<void> {
    if (!this.watch || f.subs.size === 0 || this.closed) return;
    let stat = await fsp.stat(f.path).catch(() => undefined);
    if (stat === undefined) {
      this.unwatch(f);
      await fsp.mkdir(f.path, { recursive: true }).catch(() => undefined);
      stat = await fsp.stat(f.path).catch(() => undefined);
      if (stat === undefined) return;
    }
    // Inode numbers are reused at once on ext4; the birth time tells the new folder apart.
    const id = `${stat.ino}:${stat.birthtimeMs}`;
    if (f.watcher && f.watchedId === id) return;
    this.unwatch(f);
    if (f.subs.size === 0 || this.closed) return;
    f.watchedId = id;
    const own = path.basename(f.path);
    try {
      const watcher = fs.watch(f.path, { persistent: false }, (_event, name) => {
        // The folder itself was removed or renamed: this watcher hears nothing more. The next poll
        // makes the folder again, later than now so as not to fight an operator's `rm -rf`.
        if (name === own) this.unwatch(f);
        void this.scan(f);
      });
      watcher.on('error', () => {
        // The folder was removed or the watch broke: poll until it can be watched again.
        watcher.close();
        if (f.watcher === watcher) f.watcher = undefined;
        void this.scan(f);
      });
      f.watcher = watcher;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      if (!this.watchWarned) {
        this.watchWarned = true;
        this.logger.warn(`local registry: fs.watch is unavailable (${describe(err)}); changes are seen by polling every ${this.pollInterval} ms`, {
          folder: f.path,
        });
      }
    }
  }

  private unwatch(f: Folder): void {
    f.watcher?.close();
    f.watcher = undefined;
    f.watchedId = undefined;
  }

  /** Every `pollInterval`: rescan the subscribed folders (expired leases, missed events) and re-watch. */
  private poll(): void {
    for (const f of this.folders.values()) {
      if (f.subs.size === 0) continue;
      void this.watchFolder(f).then(() => this.scan(f));
    }
  }

  /**
   * Rescans `f`; resolves once a scan that started after this call finished. At most one scan
   * runs and one waits per folder, so a burst of watch events costs two scans.
   */
  private scan(f: Folder): Promise<void> {
    if (f.queued) return f.queued;
    const before = f.running ?? Promise.resolve();
    const next = before.then(() => {
      f.queued = undefined;
      const run = this.scanNow(f);
      f.running = run;
      return run.finally(() => {
        if (f.running === run) f.running = undefined;
      });
    });
    f.queued = next;
    return next;
  }

  private async scanNow(f: Folder): Promise<void> {
    let names: string[];
    try {
      names = await fsp.readdir(f.path);
    } catch (err) {
      // A removed folder holds no entry; anything else (a file in the way, no permission) is an
      // outage: the last list stands until the folder can be read again.
      if (errnoOf(err) !== 'ENOENT') {
        if (f.readError === undefined) this.logger.warn(`local registry: cannot read ${f.path}: ${describe(err)}`);
        f.readError = describe(err);
        return;
      }
      names = [];
    }
    f.readError = undefined;
    const now = Date.now();
    const leases = new Map<string, number | null>();
    const live = new Map<string, URL>();
    const present = new Set<string>();
    for (const name of names) {
      if (name.startsWith('.')) {
        if (name.endsWith('.tmp')) await this.sweepTemp(f, name, now);
        continue;
      }
      present.add(name);
      let entry = f.entries.get(name);
      if (entry === undefined) {
        entry = await this.read(f, name);
        if (entry === undefined) continue;
      }
      if (!(await this.alive(entry, leases, now))) {
        f.entries.delete(name);
        await this.reap(f, entry, leases);
        continue;
      }
      live.set(entry.key, entry.url);
    }
    for (const name of f.entries.keys()) if (!present.has(name)) f.entries.delete(name);
    for (const name of f.garbage.keys()) if (!present.has(name)) f.garbage.delete(name);
    const keys = [...live.keys()].sort();
    const liveKey = keys.join('\n');
    f.scanned = true;
    if (liveKey === f.liveKey && f.live.length === keys.length) return;
    f.live = keys.map((k) => live.get(k)!);
    f.liveKey = liveKey;
    for (const s of f.subs) this.schedule(s, false);
  }

  /** Reads a file not seen (or seen as garbage and since changed); warns once per garbage file. */
  private async read(f: Folder, name: string): Promise<Entry | undefined> {
    const file = path.join(f.path, name);
    const seen = f.garbage.get(name);
    if (seen !== undefined) {
      const stat = await fsp.lstat(file).catch(() => undefined);
      if (stat === undefined || signature(stat) === seen) return undefined;
    }
    const result = await readEntry(f.path, name, f.iface, f.category, this.maxEntrySize);
    if ('entry' in result) {
      f.garbage.delete(name);
      f.entries.set(name, result.entry);
      return result.entry;
    }
    if ('garbage' in result) {
      const stat = await fsp.lstat(file).catch(() => undefined);
      if (seen === undefined) this.logger.warn(`local registry: skipping ${name}: ${result.garbage}`, { file });
      f.garbage.set(name, stat === undefined ? '' : signature(stat));
    }
    return undefined;
  }

  /** Whether a leased entry still counts: its pid lives (when checkable) and its lease was renewed within its ttl. */
  private async alive(entry: Entry, leases: Map<string, number | null>, now: number): Promise<boolean> {
    const { lease, ttl, pid, host, pidns } = entry.record;
    if (lease === undefined || ttl === undefined) return true;
    if (ownLeases.has(lease)) return true;
    if (host === this.hostname && pidns === this.pidns && !pidAlive(pid)) return false;
    let renewed = leases.get(lease);
    if (renewed === undefined) {
      try {
        renewed = (await fsp.stat(path.join(this.base, LEASES_FOLDER, `${lease}.json`))).mtimeMs;
      } catch (err) {
        // Missing: the owner closed or was reaped (leases are written before entries). Unreadable: do not judge.
        renewed = errnoOf(err) === 'ENOENT' ? null : now;
      }
      leases.set(lease, renewed);
    }
    return renewed !== null && now - renewed <= ttl;
  }

  /** Removes a dead entry and its lease; losing the race to another reaper is fine. */
  private async reap(f: Folder, entry: Entry, leases: Map<string, number | null>): Promise<void> {
    const { lease, pid, host } = entry.record;
    this.logger.debug('local registry: removing the entry of a dead or expired process', { url: entry.key, pid, host });
    if (lease !== undefined && leases.get(lease) !== null) {
      // The lease first: an owner that was only stalled then sees it gone and registers again.
      leases.set(lease, null);
      await removeFile(path.join(this.base, LEASES_FOLDER, `${lease}.json`)).catch(() => undefined);
    }
    await removeFile(path.join(f.path, entry.name)).catch(() => undefined);
  }

  private async sweepTemp(f: Folder, name: string, now: number): Promise<void> {
    const file = path.join(f.path, name);
    const stat = await fsp.lstat(file).catch(() => undefined);
    if (stat !== undefined && now - stat.mtimeMs > TEMP_MAX_AGE_MS) await removeFile(file).catch(() => undefined);
  }

  private schedule(sub: Subscription, force: boolean): void {
    if (force) sub.force = true;
    if (sub.scheduled) return;
    sub.scheduled = true;
    // Later, never inside subscribe or a scan: a listener may call back into the registry.
    queueMicrotask(() => this.deliver(sub));
  }

  private deliver(sub: Subscription): void {
    sub.scheduled = false;
    if (!sub.active || !sub.folders.every((f) => f.scanned)) return;
    const urls = merge(sub.folders);
    const key = urls.map((u) => u.toString()).join('\n');
    if (!sub.force && key === sub.lastKey) return;
    sub.force = false;
    sub.lastKey = key;
    try {
      sub.listener(urls);
    } catch (err) {
      this.logger.error(`local registry: listener failed: ${describe(err)}`, { subscription: sub.key });
    }
  }

  private cancel(sub: Subscription): void {
    sub.active = false;
    this.subscriptions.delete(sub);
    for (const f of sub.folders) {
      f.subs.delete(sub);
      if (f.subs.size === 0) this.unwatch(f);
    }
    if (this.subscriptions.size === 0 && this.pollTimer) {
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
    }
  }

  private async listServices(): Promise<string[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.base);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return [];
      throw ERR_LOCAL_REGISTRY_IO('read', this.base, describe(err));
    }
    const out: string[] = [];
    for (const name of names) {
      const iface = interfaceOfFolder(name);
      if (iface === undefined) continue;
      for (const category of ['providers', 'consumers', 'routers', 'configurators'] as const) {
        const f = this.folder(iface, category);
        await this.scan(f);
        if (f.live.length > 0) {
          out.push(iface);
          break;
        }
      }
    }
    return out.sort();
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** Runs `fn` after every earlier operation on the same entry key (register, unregister, heartbeat). */
  private locked<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }

  /** Turns a file system error into a coded one. */
  private async io<T>(what: string, file: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (PlexusError.is(err)) throw err;
      throw ERR_LOCAL_REGISTRY_IO(what, file, describe(err));
    }
  }

  /** Rejects with a coded timeout when `op` outlasts `timeout` (the operation itself goes on). */
  private timed<T>(what: string, op: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(ERR_LOCAL_REGISTRY_TIMEOUT(what, this.timeout)), this.timeout);
    });
    op.catch(() => undefined);
    return Promise.race([op, limit]).finally(() => clearTimeout(timer));
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw ERR_LOCAL_REGISTRY_CLOSED(what);
  }
}

function signature(stat: fs.Stats): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

/** The live URLs of several folders, deduplicated and sorted by their text. */
function merge(folders: readonly Folder[]): URL[] {
  if (folders.length === 1) return [...folders[0].live];
  const byKey = new Map<string, URL>();
  for (const f of folders) for (const u of f.live) byKey.set(u.toString(), u);
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, readlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { categoryOf, URL, type RegistryCategory } from '@plexus/kernel/spi';

/*
 * The on-disk format of the local registry, and the file primitives that keep it safe to share
 * between processes. Internal to this package.
 *
 *   <dir>/<root>/<encoded interface>/<category>/<hash>.json            routers, configurators
 *   <dir>/<root>/<encoded interface>/<category>/<hash>.<lease>.json    providers, consumers
 *   <dir>/<root>/.leases/<lease>.json                                  one per registry instance
 *
 * `<hash>` is the first 32 hex digits of the SHA-256 of the URL's canonical text: names stay short
 * whatever the URL (an encoded URL easily passes the 255-byte limit of a file name), and the name
 * pins the content, so a reader that decoded a file once never needs to read it again.
 * Ephemeral entries also carry their lease in the name: two instances registering the same URL
 * own two files, and nobody ever overwrites or deletes a live file it does not own.
 */

/** Categories whose entries are operators' rules: written once, never leased, kept after close. */
export const PERSISTENT_CATEGORIES: ReadonlySet<RegistryCategory> = new Set(['routers', 'configurators']);

/** The folder that holds lease files, beside the interface folders (interface folders never start with a dot). */
export const LEASES_FOLDER = '.leases';

/** File names are limited to 255 bytes on every common file system. */
export const MAX_NAME_BYTES = 255;

const HASH_HEX = 32;
const LEASE_HEX = 16;
const ENTRY_NAME = /^([0-9a-f]{32})(?:\.([0-9a-f]{16}))?\.json$/;

/** The content of an entry file. */
export interface EntryRecord {
  /** The registered URL, canonical text. */
  url: string;
  /** The writing process. */
  pid: number;
  /** The writer's host name: the pid check applies only to entries of this machine. */
  host: string;
  /** The writer's PID namespace on Linux (`pid:[4026531836]`): containers sharing a host name differ here. */
  pidns?: string;
  /** The lease that keeps the entry alive (ephemeral entries only). */
  lease?: string;
  /** Milliseconds after the lease's last renewal at which the entry counts as gone (ephemeral only). */
  ttl?: number;
  /** When the entry was written, epoch ms (informative). */
  createdAt: number;
}

/** An entry file read back and checked. */
export interface Entry {
  readonly name: string;
  readonly url: URL;
  /** `url.toString()`: the key readers dedupe on. */
  readonly key: string;
  readonly record: EntryRecord;
}

/** The result of reading one entry file: an entry, nothing (it vanished meanwhile), or why it is garbage. */
export type ReadResult = { entry: Entry } | { gone: true } | { garbage: string };

/** The first 32 hex digits of the SHA-256 of `text`. */
export function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, HASH_HEX);
}

/** A fresh lease id: 64 random bits as hex. */
export function newLeaseId(): string {
  return randomBytes(LEASE_HEX / 2).toString('hex');
}

/** The file name of an entry: `<hash>.json`, or `<hash>.<lease>.json` for a leased one. */
export function entryName(key: string, lease?: string): string {
  return lease === undefined ? `${hashOf(key)}.json` : `${hashOf(key)}.${lease}.json`;
}

/**
 * The folder name of an interface: url-encoded as in Dubbo's layout, with a leading dot escaped
 * too, so `.`, `..` and `.leases` can never name a folder other than their own.
 */
export function interfaceFolderName(iface: string): string {
  return encodeURIComponent(iface).replace(/^\./, '%2E');
}

/** The interface of a folder name, or undefined when the name is not one this package writes. */
export function interfaceOfFolder(name: string): string | undefined {
  if (name.startsWith('.')) return undefined;
  try {
    const iface = decodeURIComponent(name);
    return iface !== '' && interfaceFolderName(iface) === name ? iface : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and checks the `root` option: relative segments, no `.` or `..`. Undefined when unusable. */
export function rootSegments(root: string): string[] | undefined {
  const segments = root.split('/').filter((s) => s !== '');
  if (segments.length === 0) return undefined;
  for (const s of segments) {
    if (s === '.' || s === '..' || s.includes('\\') || s.includes('\0') || Buffer.byteLength(s) > MAX_NAME_BYTES) return undefined;
  }
  return segments;
}

let cachedPidNamespace: string | null | undefined;

/** This process's PID namespace (`pid:[...]`) on Linux, undefined elsewhere. */
export function pidNamespace(): string | undefined {
  if (cachedPidNamespace === undefined) {
    try {
      cachedPidNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      cachedPidNamespace = null;
    }
  }
  return cachedPidNamespace ?? undefined;
}

/** Whether process `pid` exists on this machine (EPERM: it exists, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The errno code of a Node error, if any. */
export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Writes `content` to `folder/name` atomically: a temp file in the same folder (same file system,
 * so the rename is atomic), then a rename over the target. Readers see the old file or the new
 * one, never a part. The folder is created when missing. Temp names start with a dot, so readers
 * skip them; one left by a crash is swept by readers after {@link TEMP_MAX_AGE_MS}.
 */
export async function writeAtomic(folder: string, name: string, content: string): Promise<void> {
  const temp = path.join(folder, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fsp.writeFile(temp, content, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
    await fsp.mkdir(folder, { recursive: true });
    await fsp.writeFile(temp, content, { flag: 'wx', mode: 0o644 });
  }
  try {
    await fsp.rename(temp, path.join(folder, name));
  } catch (err) {
    await fsp.unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** Removes a file; a file already gone is not an error. */
export async function removeFile(file: string): Promise<void> {
  try {
    await fsp.unlink(file);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

/** A temp file older than this was left by a writer that died between write and rename. */
export const TEMP_MAX_AGE_MS = 60_000;

/**
 * Reads at most `limit` bytes of a regular file. Opened without following a symbolic link and
 * without blocking (a FIFO or device planted in the folder must not hang the reader), and checked
 * to be a regular file of at most `limit` bytes before anything is read.
 */
async function readBounded(file: string, limit: number): Promise<{ text: string } | { gone: true } | { garbage: string }> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | (fsConstants.O_NOFOLLOW ?? 0));
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return { gone: true };
    if (code === 'ELOOP') return { garbage: 'a symbolic link' };
    return { garbage: `unreadable (${code ?? (err as Error).message})` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { garbage: 'not a regular file' };
    if (stat.size > limit) return { garbage: `${stat.size} bytes, over the limit of ${limit} (maxEntrySize)` };
    // One byte more than allowed tells a file that grew after the stat from one that fits.
    const buffer = Buffer.alloc(Math.min(stat.size, limit) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limit) return { garbage: `over the limit of ${limit} bytes (maxEntrySize)` };
    return { text: buffer.toString('utf8', 0, length) };
  } catch (err) {
    return { garbage: `unreadable (${errnoOf(err) ?? (err as Error).message})` };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Reads and checks the entry file `name` of `folder`, which holds the entries of `category` of
 * interface `iface`. Anything that is not exactly what this package writes is garbage, with the
 * reason: a foreign name, a size over `limit`, bad JSON, a URL that does not parse or belongs
 * elsewhere, a name that does not match its URL, lease fields missing or malformed.
 */
export async function readEntry(folder: string, name: string, iface: string, category: RegistryCategory, limit: number): Promise<ReadResult> {
  const m = ENTRY_NAME.exec(name);
  if (!m) return { garbage: 'not an entry file name (<hash>[.<lease>].json)' };
  const [, hash, lease] = m;
  const read = await readBounded(path.join(folder, name), limit);
  if (!('text' in read)) return read;
  let value: unknown;
  try {
    value = JSON.parse(read.text);
  } catch {
    return { garbage: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { garbage: 'not a JSON object' };
  const r = value as Record<string, unknown>;
  if (typeof r.url !== 'string') return { garbage: 'no "url" string' };
  let url: URL;
  try {
    url = URL.parse(r.url);
  } catch {
    return { garbage: 'its "url" does not parse' };
  }
  if (!url.path) return { garbage: 'its "url" has no interface path' };
  if (url.path !== iface) return { garbage: `its URL is for interface "${url.path}"` };
  if (categoryOf(url) !== category) return { garbage: `its URL belongs under ${categoryOf(url)}` };
  if (hashOf(r.url) !== hash) return { garbage: 'the name is not the hash of its URL' };
  if (!Number.isSafeInteger(r.pid) || (r.pid as number) <= 0 || typeof r.host !== 'string') return { garbage: 'no valid "pid" and "host"' };
  if (r.pidns !== undefined && typeof r.pidns !== 'string') return { garbage: '"pidns" is not a string' };
  const persistent = PERSISTENT_CATEGORIES.has(category);
  if (persistent && lease !== undefined) return { garbage: `${category} entries have no lease` };
  if (!persistent) {
    if (lease === undefined || r.lease !== lease) return { garbage: 'its lease does not match its name' };
    if (typeof r.ttl !== 'number' || !(r.ttl > 0)) return { garbage: 'no positive "ttl"' };
  }
  const record: EntryRecord = {
    url: r.url,
    pid: r.pid as number,
    host: r.host,
    createdAt: typeof r.createdAt === 'number' ? r.createdAt : 0,
    ...(typeof r.pidns === 'string' ? { pidns: r.pidns } : {}),
    ...(persistent ? {} : { lease, ttl: r.ttl as number }),
  };
  return { entry: { name, url, key: url.toString(), record } };
}

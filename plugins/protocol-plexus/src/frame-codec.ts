import type { EncodedRange, Serializer } from '@plexus/kernel/spi';
import { DEFAULT_STREAM_WINDOW, EventKind, FIXED_LENGTH, Flag, Tag, varintSize, writeFixed, writeVarint } from './wire';

/** 2^(7·i): the weight of a varint's i-th byte (a table, not `2 ** shift`, which is a float power). */
const VARINT_SCALE = [1, 0x80, 0x4000, 0x200000, 0x10000000];

/** Default of {@link HeaderReader.maxAttachments}. */
export const DEFAULT_MAX_ATTACHMENTS = 256;
/** Header entries a frame may carry besides its attachments (route, codecs, timeout, newer tags). */
const OTHER_ENTRIES = 64;

/**
 * Reads the header entries of one frame into reusable fields. Scope: one per connection; the
 * fields are valid until the next `read`. Unknown tags are skipped, which is what lets a newer peer
 * add entries without breaking an older one.
 *
 * Bounded: a header may hold at most {@link maxAttachments} attachments and 64 other entries;
 * past that `read` stops at once and sets {@link overflow}, so an 8 MiB header of a million
 * attachments costs a few hundred entries' work, not a million strings. Attachments are built in
 * a null-prototype object, so a key such as `hasOwnProperty` or `__proto__` is plain data.
 */
export class HeaderReader {
  serializerId = -1;
  compressorId = 0;
  acceptCompressorId = 0;
  service = '';
  method: string | undefined = undefined;
  methodIndex = -1;
  timeout = 0;
  /** `STREAM_ARG`: position of the client-stream argument, or -1. */
  streamArg = -1;
  /** `STREAM_WINDOW`: the window the frame's sender grants, or 0 when absent (the default applies). */
  streamWindow = 0;
  attachments: Record<string, string> | undefined = undefined;
  errorMessage: string | undefined = undefined;
  errorReason: string | undefined = undefined;
  /** Set when the last `read` stopped because the header held too many attachments or entries. */
  overflow: 'attachments' | 'entries' | undefined = undefined;
  /**
   * Most attachments one frame may carry (default 256: tracing and routing use a handful; each
   * costs two strings and a property). Settable per frame by the connection that owns the reader.
   */
  maxAttachments = DEFAULT_MAX_ATTACHMENTS;
  /**
   * The last service and method names read: a connection mostly calls a few methods of a few
   * services, so a name equal to the last one is reused instead of decoded into a new string
   * that the lookups would then hash again.
   */
  private readonly serviceName = new LastName();
  private readonly methodName = new LastName();

  /**
   * Parses `buf[start..end)`; returns false when an entry runs past the end or a varint is
   * malformed, or (with {@link overflow} set) when the header holds too many entries.
   */
  read(buf: Buffer, start: number, end: number): boolean {
    this.serializerId = -1;
    this.compressorId = 0;
    this.acceptCompressorId = 0;
    this.service = '';
    this.method = undefined;
    this.methodIndex = -1;
    this.timeout = 0;
    this.streamArg = -1;
    this.streamWindow = 0;
    this.attachments = undefined;
    this.errorMessage = undefined;
    this.errorReason = undefined;
    this.overflow = undefined;
    const maxAttachments = this.maxAttachments;
    let attachmentsLeft = maxAttachments;
    let othersLeft = OTHER_ENTRIES;
    let p = start;
    while (p < end) {
      const tag = buf[p++];
      if (tag === Tag.ATTACHMENT ? --attachmentsLeft < 0 : --othersLeft < 0) {
        this.overflow = tag === Tag.ATTACHMENT ? 'attachments' : 'entries';
        return false;
      }
      // Inline varint: entry lengths are almost always one byte.
      let len = 0;
      let b = 0x80;
      for (let i = 0; b & 0x80; i++) {
        if (p >= end || i === 5) return false;
        b = buf[p++];
        len += (b & 0x7f) * VARINT_SCALE[i];
      }
      const vEnd = p + len;
      if (vEnd > end) return false;
      switch (tag) {
        case Tag.SERIALIZER:
          if (len < 1) return false;
          this.serializerId = buf[p];
          break;
        case Tag.COMPRESSOR:
          if (len < 1) return false;
          this.compressorId = buf[p];
          break;
        case Tag.ACCEPT_COMPRESSOR:
          if (len < 1) return false;
          this.acceptCompressorId = buf[p];
          break;
        case Tag.SERVICE:
          this.service = this.serviceName.read(buf, p, vEnd);
          break;
        case Tag.METHOD:
          this.method = this.methodName.read(buf, p, vEnd);
          break;
        case Tag.METHOD_INDEX: {
          const n = readVarintIn(buf, p, vEnd);
          if (n < 0) return false;
          this.methodIndex = n;
          break;
        }
        case Tag.TIMEOUT: {
          const n = readVarintIn(buf, p, vEnd);
          if (n < 0) return false;
          this.timeout = n;
          break;
        }
        case Tag.STREAM_ARG: {
          const n = readVarintIn(buf, p, vEnd);
          if (n < 0) return false;
          this.streamArg = n;
          break;
        }
        case Tag.STREAM_WINDOW: {
          const n = readVarintIn(buf, p, vEnd);
          if (n < 0) return false;
          this.streamWindow = n;
          break;
        }
        case Tag.ATTACHMENT: {
          const keyLength = readVarintIn(buf, p, vEnd);
          if (keyLength < 0) return false;
          const keyStart = p + varintSize(keyLength);
          if (keyStart + keyLength > vEnd) return false;
          const key = buf.toString('utf8', keyStart, keyStart + keyLength);
          // Null prototype: no key can shadow a method or reach a prototype. `__proto__` is still
          // dropped, for consumers that copy attachments into ordinary objects.
          if (key !== '__proto__') {
            (this.attachments ??= Object.create(null) as Record<string, string>)[key] = buf.toString('utf8', keyStart + keyLength, vEnd);
          }
          break;
        }
        case Tag.ERROR_MESSAGE:
          this.errorMessage = buf.toString('utf8', p, vEnd);
          break;
        case Tag.ERROR_REASON:
          this.errorReason = buf.toString('utf8', p, vEnd);
          break;
        default:
          break; // an entry from a newer peer
      }
      p = vEnd;
    }
    return true;
  }

}

/** The last name decoded from header bytes, reused while the bytes repeat (compared byte by byte). */
class LastName {
  private name = '';
  private bytes: Buffer = Buffer.alloc(0);

  read(buf: Buffer, start: number, end: number): string {
    const last = this.bytes;
    const len = end - start;
    if (len === last.length) {
      let i = 0;
      while (i < len && buf[start + i] === last[i]) i++;
      if (i === len) return this.name;
    }
    const name = buf.toString('utf8', start, end);
    // Names are short; a long one is decoded each time rather than kept.
    if (len <= 256) {
      this.name = name;
      this.bytes = Buffer.from(buf.subarray(start, end));
    }
    return name;
  }
}

/** A varint wholly inside `buf[p..end)`, or -1. */
export function readVarintIn(buf: Buffer, p: number, end: number): number {
  let n = 0;
  for (let i = 0; p < end && i < 5; i++) {
    const b = buf[p++];
    n += (b & 0x7f) * VARINT_SCALE[i];
    if ((b & 0x80) === 0) return n;
  }
  return -1;
}


/** Bytes of one string-valued entry. */
function stringEntrySize(byteLength: number): number {
  return 1 + varintSize(byteLength) + byteLength;
}

function writeStringEntry(buf: Buffer, p: number, tag: number, value: string, byteLength: number): number {
  buf[p++] = tag;
  p = writeVarint(buf, p, byteLength);
  if (byteLength > 0) buf.write(value, p, byteLength, 'utf8');
  return p + byteLength;
}

function attachmentsSize(attachments: Record<string, unknown> | undefined): number {
  let size = 0;
  if (attachments === undefined) return 0;
  for (const key in attachments) {
    const value = attachments[key];
    if (value === undefined || value === null) continue;
    const k = Buffer.byteLength(key);
    const len = varintSize(k) + k + Buffer.byteLength(typeof value === 'string' ? value : String(value));
    size += 1 + varintSize(len) + len;
  }
  return size;
}

function writeAttachments(buf: Buffer, p: number, attachments: Record<string, unknown> | undefined): number {
  if (attachments === undefined) return p;
  for (const key in attachments) {
    const raw = attachments[key];
    if (raw === undefined || raw === null) continue;
    const value = typeof raw === 'string' ? raw : String(raw);
    const k = Buffer.byteLength(key);
    const v = Buffer.byteLength(value);
    const len = varintSize(k) + k + v;
    buf[p++] = Tag.ATTACHMENT;
    p = writeVarint(buf, p, len);
    p = writeVarint(buf, p, k);
    p += buf.write(key, p, k, 'utf8');
    if (v > 0) p += buf.write(value, p, v, 'utf8');
  }
  return p;
}

/**
 * The header entries that name a call's service and method, encoded once per (service key, method)
 * and copied into every request.
 */
export function encodeRoute(serviceKey: string, method: string): Buffer {
  const s = Buffer.byteLength(serviceKey);
  const m = Buffer.byteLength(method);
  const buf = Buffer.allocUnsafe(stringEntrySize(s) + stringEntrySize(m));
  const p = writeStringEntry(buf, 0, Tag.SERVICE, serviceKey, s);
  writeStringEntry(buf, p, Tag.METHOD, method, m);
  return buf;
}

/** Header bytes a request will take besides its route; see {@link encodeRequest}. */
export function requestHeaderSize(
  route: Uint8Array,
  compressorId: number,
  acceptCompressorId: number,
  timeout: number,
  attachments: Record<string, unknown> | undefined,
  extra?: Uint8Array,
): number {
  return (extra === undefined ? 0 : extra.length) + route.length + 3 + (compressorId !== 0 ? 3 : 0) + (acceptCompressorId !== 0 ? 3 : 0) + (timeout > 0 ? 2 + varintSize(timeout) : 0) + attachmentsSize(attachments);
}

/**
 * One request frame in one allocation. `headerLength` must come from {@link requestHeaderSize}
 * with the same arguments (the caller computes it first to check the payload limit).
 */
export function encodeRequest(
  id: number,
  oneWay: boolean,
  route: Uint8Array,
  serializerId: number,
  compressorId: number,
  acceptCompressorId: number,
  timeout: number,
  attachments: Record<string, unknown> | undefined,
  body: Uint8Array,
  headerLength: number,
  extra?: Uint8Array,
): Buffer {
  const buf = Buffer.allocUnsafe(FIXED_LENGTH + headerLength + body.length);
  writeRequest(buf, 0, id, oneWay, route, serializerId, compressorId, acceptCompressorId, timeout, attachments, body, 0, body.length, headerLength, extra);
  return buf;
}

/**
 * {@link encodeRequest} into `buf` at `off` (a transport's write slot), the body taken from
 * `body[bodyStart .. bodyEnd)`: `FIXED_LENGTH + headerLength + bodyEnd - bodyStart` bytes.
 */
export function writeRequest(
  buf: Buffer,
  off: number,
  id: number,
  oneWay: boolean,
  route: Uint8Array,
  serializerId: number,
  compressorId: number,
  acceptCompressorId: number,
  timeout: number,
  attachments: Record<string, unknown> | undefined,
  body: Uint8Array,
  bodyStart: number,
  bodyEnd: number,
  headerLength: number,
  extra?: Uint8Array,
): void {
  // A two-way call may be answered with a stream: this consumer reads its items batched.
  writeFixed(buf, oneWay ? Flag.ONE_WAY : Flag.BATCH, 0, 0, id, headerLength, bodyEnd - bodyStart, off);
  let p = off + FIXED_LENGTH;
  buf.set(route, p);
  p += route.length;
  if (extra !== undefined) {
    buf.set(extra, p);
    p += extra.length;
  }
  p = writeByteEntry(buf, p, Tag.SERIALIZER, serializerId);
  if (compressorId !== 0) p = writeByteEntry(buf, p, Tag.COMPRESSOR, compressorId);
  if (acceptCompressorId !== 0) p = writeByteEntry(buf, p, Tag.ACCEPT_COMPRESSOR, acceptCompressorId);
  if (timeout > 0) {
    buf[p++] = Tag.TIMEOUT;
    buf[p++] = varintSize(timeout);
    p = writeVarint(buf, p, timeout);
  }
  p = writeAttachments(buf, p, attachments);
  copyRange(body, bodyStart, bodyEnd, buf, p);
}

/** What {@link serializeBody} hands back when the bytes are a buffer of their own; reused. */
const OWN_BODY: { bytes: Uint8Array; start: number; end: number } = { bytes: new Uint8Array(0), start: 0, end: 0 };

/**
 * `value` serialized for a frame: in the serializer's scratch when it has one (no buffer made),
 * else in a buffer of its own — always when `ownBuffer` (a compressor needs one). Read the range
 * at once: it is valid until the serializer or this function is called again.
 */
export function serializeBody(serializer: Serializer, value: unknown, ownBuffer: boolean): EncodedRange {
  if (!ownBuffer && serializer.serializeScratch !== undefined) return serializer.serializeScratch(value);
  const bytes = serializer.serialize(value);
  OWN_BODY.bytes = bytes;
  OWN_BODY.start = 0;
  OWN_BODY.end = bytes.length;
  return OWN_BODY;
}

/** Copies `src[start .. end)` to `dst` at `at`; a Buffer source is copied without a view of it. */
export function copyRange(src: Uint8Array, start: number, end: number, dst: Buffer, at: number): void {
  if (end <= start) return;
  if (Buffer.isBuffer(src)) src.copy(dst, at, start, end);
  else dst.set(start === 0 && end === src.length ? src : src.subarray(start, end), at);
}

/** Writes a one-byte header entry (`tag · 1 · value`) at `p`; returns the next position. */
function writeByteEntry(buf: Buffer, p: number, tag: number, value: number): number {
  buf[p] = tag;
  buf[p + 1] = 1;
  buf[p + 2] = value;
  return p + 3;
}

/**
 * Pre-encoded stream entries of a request (`STREAM_ARG`, `STREAM_WINDOW`), passed as `extra` to
 * {@link requestHeaderSize} and {@link encodeRequest}; undefined when there are none.
 */
export function streamRequestEntries(streamArg: number, window: number): Buffer | undefined {
  const withArg = streamArg >= 0;
  const withWindow = window > 0 && window !== DEFAULT_STREAM_WINDOW;
  if (!withArg && !withWindow) return undefined;
  const buf = Buffer.allocUnsafe((withArg ? 2 + varintSize(streamArg) : 0) + (withWindow ? 2 + varintSize(window) : 0));
  let p = 0;
  if (withArg) p = writeVarintEntry(buf, p, Tag.STREAM_ARG, streamArg);
  if (withWindow) writeVarintEntry(buf, p, Tag.STREAM_WINDOW, window);
  return buf;
}

function writeVarintEntry(buf: Buffer, p: number, tag: number, value: number): number {
  buf[p++] = tag;
  buf[p++] = varintSize(value);
  return writeVarint(buf, p, value);
}

/** Header bytes of a successful response; see {@link encodeResponse}. */
export function responseHeaderSize(compressorId: number, attachments: Record<string, unknown> | undefined): number {
  return 3 + (compressorId !== 0 ? 3 : 0) + attachmentsSize(attachments);
}

/**
 * A response frame whose body was serialized (a value, or an error's wire form when `status` is
 * not OK). An empty body with status OK stands for `undefined`.
 */
export function encodeResponse(
  id: number,
  status: number,
  serializerId: number,
  compressorId: number,
  attachments: Record<string, unknown> | undefined,
  body: Uint8Array,
  headerLength: number,
): Buffer {
  const buf = Buffer.allocUnsafe(FIXED_LENGTH + headerLength + body.length);
  writeResponse(buf, 0, id, status, serializerId, compressorId, attachments, body, 0, body.length, headerLength);
  return buf;
}

/** {@link encodeResponse} into `buf` at `off`, the body taken from `body[bodyStart .. bodyEnd)`. */
export function writeResponse(
  buf: Buffer,
  off: number,
  id: number,
  status: number,
  serializerId: number,
  compressorId: number,
  attachments: Record<string, unknown> | undefined,
  body: Uint8Array,
  bodyStart: number,
  bodyEnd: number,
  headerLength: number,
): void {
  writeFixed(buf, Flag.RESPONSE, status, 0, id, headerLength, bodyEnd - bodyStart, off);
  let p = off + FIXED_LENGTH;
  p = writeByteEntry(buf, p, Tag.SERIALIZER, serializerId);
  if (compressorId !== 0) p = writeByteEntry(buf, p, Tag.COMPRESSOR, compressorId);
  p = writeAttachments(buf, p, attachments);
  copyRange(body, bodyStart, bodyEnd, buf, p);
}

/**
 * An error response that needs no serializer: the message and reason ride in header entries and
 * the body is empty. Used for errors the protocol raises itself (unknown serializer, shutting
 * down, too large) and as the fallback when an error's wire form cannot be serialized.
 */
export function encodeErrorResponse(id: number, status: number, message: string, reason: string | undefined): Buffer {
  const m = Buffer.byteLength(message);
  const r = reason === undefined ? 0 : Buffer.byteLength(reason);
  const headerLength = stringEntrySize(m) + (reason === undefined ? 0 : stringEntrySize(r));
  const buf = Buffer.allocUnsafe(FIXED_LENGTH + headerLength);
  writeFixed(buf, Flag.RESPONSE, status, 0, id, headerLength, 0);
  const p = writeStringEntry(buf, FIXED_LENGTH, Tag.ERROR_MESSAGE, message, m);
  if (reason !== undefined) writeStringEntry(buf, p, Tag.ERROR_REASON, reason, r);
  return buf;
}

/**
 * The OK response that starts a streamed answer (flag `STREAM`, no body): the serializer its items
 * use, the result's attachments, and the window the provider grants for the client stream of the
 * same call when it has one and the window is not the default (`window` 0: none).
 */
export function encodeStreamStart(id: number, serializerId: number, attachments: Record<string, unknown> | undefined, window: number, batch = true): Buffer {
  const withWindow = window > 0 && window !== DEFAULT_STREAM_WINDOW;
  const headerLength = 3 + attachmentsSize(attachments) + (withWindow ? 2 + varintSize(window) : 0);
  const buf = Buffer.allocUnsafe(FIXED_LENGTH + headerLength);
  // BATCH: this provider reads the call's client stream batched.
  writeFixed(buf, Flag.RESPONSE | Flag.STREAM | (batch ? Flag.BATCH : 0), 0, 0, id, headerLength, 0);
  let p = writeByteEntry(buf, FIXED_LENGTH, Tag.SERIALIZER, serializerId);
  if (withWindow) p = writeVarintEntry(buf, p, Tag.STREAM_WINDOW, window);
  writeAttachments(buf, p, attachments);
  return buf;
}

/**
 * One `STREAM_DATA` event: `body` is the serialized item — with `batch`, an array of items
 * serialized as one value (flag `BATCH`) — compressed when `compressorId` is not 0 (then a
 * `COMPRESSOR` entry says so; otherwise the header is empty). `response`: the provider sends it.
 */
export function encodeStreamData(id: number, response: boolean, compressorId: number, body: Uint8Array, batch = false): Buffer {
  const headerLength = compressorId !== 0 ? 3 : 0;
  const buf = Buffer.allocUnsafe(FIXED_LENGTH + headerLength + body.length);
  const flags = (response ? Flag.EVENT | Flag.RESPONSE : Flag.EVENT | Flag.ONE_WAY) | (batch ? Flag.BATCH : 0);
  writeFixed(buf, flags, 0, EventKind.STREAM_DATA, id, headerLength, body.length);
  if (headerLength !== 0) writeByteEntry(buf, FIXED_LENGTH, Tag.COMPRESSOR, compressorId);
  buf.set(body, FIXED_LENGTH + headerLength);
  return buf;
}

/**
 * A `STREAM_CREDIT` event granting `bytes` more to the writer of the stream of call `id`. With
 * `batch` (a provider's credit for a client stream) it also says the provider reads batches.
 */
export function encodeStreamCredit(id: number, response: boolean, bytes: number, batch = false): Buffer {
  const n = Math.min(bytes, 0xffffffff);
  const bodyLength = varintSize(n);
  const buf = Buffer.allocUnsafe(FIXED_LENGTH + bodyLength);
  writeFixed(buf, (response ? Flag.EVENT | Flag.RESPONSE : Flag.EVENT | Flag.ONE_WAY) | (batch ? Flag.BATCH : 0), 0, EventKind.STREAM_CREDIT, id, 0, bodyLength);
  writeVarint(buf, FIXED_LENGTH, n);
  return buf;
}

/** A `STREAM_ERROR` event whose body is the error's serialized wire form. */
export function encodeStreamError(id: number, response: boolean, status: number, serializerId: number, body: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(FIXED_LENGTH + 3 + body.length);
  writeFixed(buf, response ? Flag.EVENT | Flag.RESPONSE : Flag.EVENT | Flag.ONE_WAY, status, EventKind.STREAM_ERROR, id, 3, body.length);
  writeByteEntry(buf, FIXED_LENGTH, Tag.SERIALIZER, serializerId);
  buf.set(body, FIXED_LENGTH + 3);
  return buf;
}

/** A `STREAM_ERROR` event carrying the error in `ERROR_MESSAGE` / `ERROR_REASON` entries (no serializer needed). */
export function encodeStreamErrorEntries(id: number, response: boolean, status: number, message: string, reason: string | undefined): Buffer {
  const buf = encodeErrorResponse(id, status, message, reason);
  buf[3] = response ? Flag.EVENT | Flag.RESPONSE : Flag.EVENT | Flag.ONE_WAY;
  buf[5] = EventKind.STREAM_ERROR;
  return buf;
}

/** An event frame: fixed part only. A two-way event (heartbeat request) expects an answer. */
export function encodeEvent(kind: number, id: number, response: boolean, twoWay: boolean): Buffer {
  const buf = Buffer.allocUnsafe(FIXED_LENGTH);
  writeFixed(buf, Flag.EVENT | (response ? Flag.RESPONSE : 0) | (response || twoWay ? 0 : Flag.ONE_WAY), 0, kind, id, 0, 0);
  return buf;
}

/**
 * gRPC over HTTP/2 on the wire (grpc/doc/PROTOCOL-HTTP2.md): header names, the 5-byte message
 * prefix, `grpc-timeout`, `grpc-message` percent-encoding, metadata ↔ attachments.
 */

/** Header names (lowercase, as HTTP/2 carries them). */
export const H = {
  CONTENT_TYPE: 'content-type',
  TE: 'te',
  TIMEOUT: 'grpc-timeout',
  ENCODING: 'grpc-encoding',
  ACCEPT_ENCODING: 'grpc-accept-encoding',
  STATUS: 'grpc-status',
  MESSAGE: 'grpc-message',
  /** The exact RpcCode and reason, for Plexus peers (gRPC peers ignore them). */
  PLEXUS_CODE: 'plexus-code',
  PLEXUS_REASON: 'plexus-reason',
  /** Set when a json body is the array of every argument rather than the one request message. */
  PLEXUS_ARGS: 'plexus-args',
  /**
   * Streams between Plexus peers without a `.proto` (a `.proto` says it with `stream`): on a
   * request, the position of the argument that follows as a client stream; on an answer's
   * headers, `1` when the answer is a stream of messages rather than one.
   */
  PLEXUS_STREAM_ARG: 'plexus-stream-arg',
  PLEXUS_STREAM: 'plexus-stream',
  /** Dubbo Triple's service version and group headers; Plexus sends and reads these. */
  VERSION: 'tri-service-version',
  GROUP: 'tri-service-group',
} as const;

export const GRPC_TYPE = 'application/grpc';
/** The encodings this side reads and writes; gzip only when the peer announced it. */
export const ACCEPT_ENCODING = 'identity,gzip';

/** Header names that are the protocol's own, never attachments. */
const RESERVED = new Set([
  'content-type',
  'te',
  'user-agent',
  'content-length',
  'accept-encoding',
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  H.PLEXUS_CODE,
  H.PLEXUS_REASON,
  H.PLEXUS_ARGS,
  H.PLEXUS_STREAM_ARG,
  H.PLEXUS_STREAM,
  H.VERSION,
  H.GROUP,
]);

/**
 * The attachments of a header block: every custom metadata entry, keyed by its name. Pseudo
 * headers, `grpc-*` and the transport's own headers are not metadata. `-bin` entries keep their
 * base64 text (attachments are strings); repeated entries are joined with `,` as gRPC does.
 */
export function attachmentsOf(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */ || name.startsWith('grpc-') || RESERVED.has(name)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    out[name] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** A metadata key gRPC accepts: lowercase letters, digits, `-`, `_`, `.`; not `grpc-` reserved. */
const METADATA_KEY = /^[0-9a-z_.-]+$/;
/** A metadata text value: printable ASCII. */
const METADATA_TEXT = /^[\x20-\x7e]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Attachments as metadata headers, into `into`. Returns the first attachment that cannot travel
 * as gRPC metadata (with why), or undefined. Keys are lowercased as HTTP/2 requires.
 */
export function putAttachments(attachments: Record<string, string> | undefined, into: Record<string, string>): string | undefined {
  if (attachments === undefined) return undefined;
  for (const key in attachments) {
    const value = attachments[key];
    if (typeof value !== 'string') continue;
    const k = key.toLowerCase();
    if (!METADATA_KEY.test(k) || k.startsWith('grpc-') || RESERVED.has(k)) return `attachment "${key}": a gRPC metadata key is lowercase letters, digits, - _ . and not grpc-* or a reserved header`;
    if (k.endsWith('-bin') ? !BASE64.test(value) : !METADATA_TEXT.test(value)) {
      return `attachment "${key}": ${k.endsWith('-bin') ? 'a -bin value must be base64 text' : 'a metadata value must be printable ASCII (use a key ending in -bin with base64 for anything else)'}`;
    }
    into[k] = value;
  }
  return undefined;
}

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** `grpc-timeout` → milliseconds (at least 1 when positive), or -1 when malformed. */
export function parseTimeout(text: string): number {
  const m = TIMEOUT.exec(text);
  if (m === null) return -1;
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  return ms > 0 ? Math.max(1, Math.ceil(ms)) : 0;
}

/** Milliseconds → `grpc-timeout` (at most 8 digits, as the spec allows). */
export function formatTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  if (whole < 100_000_000) return `${whole}m`;
  const s = Math.ceil(whole / 1000);
  if (s < 100_000_000) return `${s}S`;
  return `${Math.min(99_999_999, Math.ceil(s / 3600))}H`;
}

/** `grpc-message` encoding: percent-encode everything outside printable ASCII and `%` itself. */
export function encodeMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Inverse of {@link encodeMessage}; malformed escapes stay as they are (the spec asks for leniency). */
export function decodeMessage(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && i + 2 < text.length + 0 && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c & 0xff);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** One message with its 5-byte prefix: compressed flag, then the big-endian length. */
export function frame(body: Uint8Array, compressed = false): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

const SUBTYPE = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/**
 * The message subtype of a gRPC content type: `''` for a bare `application/grpc` (protobuf by the
 * spec, or whatever a grpc-js client's own serialize functions write), `proto`, `json` or another
 * name after `+`; undefined when it is not gRPC at all.
 */
export function subtypeOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const t = contentType.split(';', 1)[0].trim().toLowerCase();
  if (t === GRPC_TYPE) return '';
  if (!t.startsWith(`${GRPC_TYPE}+`)) return undefined;
  const sub = t.slice(GRPC_TYPE.length + 1);
  return SUBTYPE.test(sub) ? sub : undefined;
}

import { DEFAULT_MAX_ATTACHMENTS } from './frame-codec';
import { DEFAULT_STREAM_WINDOW } from './wire';
import { DEFAULT_COMPRESS_THRESHOLD, DEFAULT_COMPRESSOR, DEFAULT_SERIALIZER, DEFAULT_TRANSPORT, type TlsOptions } from '@plexus/kernel/spi';

/** The `protocol:` config block as the plexus protocol reads it. Every field has a default. */
export interface PlexusProtocolOptions {
  /** Listen port when a service URL gives none (default 20880, Dubbo's). */
  port: number;
  /** Unix socket path to listen on instead of host:port. */
  path?: string;
  /** Largest header-plus-body a frame may declare, both ways (default 8 MiB). */
  payload: number;
  /** Read idle time in ms before a heartbeat is sent (default 60000); 0 disables heartbeats. */
  heartbeat: number;
  /** Idle periods without any byte after which a connection is closed (default 3). */
  heartbeatMisses: number;
  /** Connections per provider address, shared round-robin by every reference (default 1). */
  connections: number;
  /** Transport extension name (default `tcp`). */
  transport: string;
  tls?: TlsOptions;
  /** Serializer of calls whose settings name none (default `msgpack`). */
  serializer: string;
  /** Compressor of calls whose settings name none (default `identity`). */
  compressor: string;
  /** Responses smaller than this are not compressed (default 1024 bytes). */
  compressThreshold: number;
  /** Connect timeout in ms (default 3000). */
  connectTimeout: number;
  /** Send the provider's stack with error responses (default false: stacks leak internals). */
  sendStack: boolean;
  /**
   * Most attachments one request may carry (default 256): tracing and routing use a handful; a
   * header of a million tiny attachments is refused before it is read, with a coded error.
   */
  maxAttachments: number;
  /**
   * Receive window of every stream this side reads, in bytes (default 256 KiB): how much of a
   * stream's items the writer may send before the reader took them. Big enough that a fast reader
   * never waits for credit on loopback or a LAN, small enough that a thousand open streams hold at
   * most a quarter GiB. Told to the writer in `STREAM_WINDOW` when it is not the default.
   */
  streamWindow: number;
  /**
   * Streams a provider keeps open per connection, streamed answers and client streams counted
   * once per call (default 256). A call that would open one more is refused with `LIMIT_EXCEEDED`
   * (`PLEXUS_ERR_PROTOCOL_TOO_MANY_STREAMS`): each open stream holds up to a window of memory and a
   * running generator, so a consumer cannot open them without bound.
   */
  maxStreams: number;
}

export const DEFAULT_PORT = 20880;
export const DEFAULT_PAYLOAD = 8 * 1024 * 1024;
export const DEFAULT_MAX_STREAMS = 256;
export { DEFAULT_STREAM_WINDOW };
export { DEFAULT_COMPRESS_THRESHOLD };

/** JSON schema of the options (the kernel validates with it and fills the defaults). */
export const optionsSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    path: { type: 'string' },
    payload: { type: 'integer', minimum: 1024, maximum: 0xffffffff, default: DEFAULT_PAYLOAD },
    heartbeat: { type: 'integer', minimum: 0, default: 60000 },
    heartbeatMisses: { type: 'integer', minimum: 1, default: 3 },
    connections: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
    transport: { type: 'string', default: DEFAULT_TRANSPORT },
    tls: { anyOf: [{ type: 'object' }, { type: 'boolean' }] },
    serializer: { type: 'string', default: DEFAULT_SERIALIZER },
    compressor: { type: 'string', default: DEFAULT_COMPRESSOR },
    compressThreshold: { type: 'integer', minimum: 0, default: DEFAULT_COMPRESS_THRESHOLD },
    connectTimeout: { type: 'integer', minimum: 1, default: 3000 },
    sendStack: { type: 'boolean', default: false },
    maxAttachments: { type: 'integer', minimum: 0, default: DEFAULT_MAX_ATTACHMENTS },
    streamWindow: { type: 'integer', minimum: 1024, maximum: 0x7fffffff, default: DEFAULT_STREAM_WINDOW },
    maxStreams: { type: 'integer', minimum: 1, default: DEFAULT_MAX_STREAMS },
  },
  additionalProperties: true,
} as const;

/** Fills defaults for options that did not pass through the schema (tests, hand-made contexts). */
export function normalizeOptions(raw: Readonly<Record<string, unknown>>): PlexusProtocolOptions {
  const num = (key: string, fallback: number, min = 0): number => {
    const v = raw[key];
    const n = typeof v === 'string' && v !== '' ? Number(v) : v;
    return typeof n === 'number' && Number.isFinite(n) && n >= min ? n : fallback;
  };
  const str = (key: string, fallback: string): string => {
    const v = raw[key];
    return typeof v === 'string' && v !== '' ? v : fallback;
  };
  const options: PlexusProtocolOptions = {
    port: num('port', DEFAULT_PORT),
    payload: Math.min(num('payload', DEFAULT_PAYLOAD, 1), 0xffffffff),
    heartbeat: num('heartbeat', 60000),
    heartbeatMisses: Math.max(1, num('heartbeatMisses', 3, 1)),
    connections: Math.max(1, Math.floor(num('connections', 1, 1))),
    transport: str('transport', DEFAULT_TRANSPORT),
    serializer: str('serializer', DEFAULT_SERIALIZER),
    compressor: str('compressor', DEFAULT_COMPRESSOR),
    compressThreshold: num('compressThreshold', DEFAULT_COMPRESS_THRESHOLD),
    connectTimeout: num('connectTimeout', 3000, 1),
    sendStack: raw.sendStack === true || raw.sendStack === 'true',
    maxAttachments: num('maxAttachments', DEFAULT_MAX_ATTACHMENTS),
    streamWindow: Math.min(num('streamWindow', DEFAULT_STREAM_WINDOW, 1024), 0x7fffffff),
    maxStreams: Math.floor(num('maxStreams', DEFAULT_MAX_STREAMS, 1)),
  };
  if (typeof raw.path === 'string' && raw.path !== '') options.path = raw.path;
  // `tls: true` asks for TLS with the platform's defaults (system CAs on the consumer side).
  if (raw.tls === true || raw.tls === 'true') options.tls = {};
  else if (raw.tls && typeof raw.tls === 'object') options.tls = raw.tls as TlsOptions;
  return options;
}

/** The `protocols: [{ name: grpc, ... }]` entry as the grpc protocol reads it. Every field has a default. */
export interface GrpcProtocolOptions {
  /** Listen port when the entry gives none (default 50051, gRPC's customary port). */
  port: number;
  /**
   * Largest message either side sends or accepts, in bytes (default 4 MiB, grpc-js's default
   * receive limit, so both ends of a mixed system refuse the same). A larger declared length is
   * refused from the 5-byte prefix, before the message is buffered; a gzip message may not inflate
   * past it either.
   */
  maxMessageSize: number;
  /**
   * Most streams (calls) one connection may have open at once, announced in SETTINGS (default 1000:
   * a benchmark at c=100 on one connection fits ten times over; a peer past it gets its streams refused).
   */
  maxConcurrentStreams: number;
  /** Largest header block (metadata) accepted, in bytes, announced in SETTINGS (default 16 KiB; grpc-js's default is 8 KiB). */
  maxHeaderListSize: number;
  /**
   * Time a client has, from opening a call, to finish sending its request (END_STREAM), in ms
   * (default 30000): a peer that opens streams and never ends them gets them reset.
   */
  requestTimeout: number;
  /**
   * How long an answer may wait for a peer that does not read it (HTTP/2 flow control holds it), in
   * ms (default 30000): then the stream is reset and its memory freed.
   */
  writeTimeout: number;
  /** Interval of keepalive PINGs on an otherwise idle connection, in ms (default 60000, the plexus protocol's heartbeat). */
  keepaliveTime: number;
  /** A PING not answered within this many ms closes the connection (default 20000, gRPC's keepalive timeout). */
  keepaliveTimeout: number;
  /** Client side: time to connect and receive the server's HTTP/2 SETTINGS, in ms (default 3000). */
  connectTimeout: number;
  /** Most connections the server accepts at once (default 4096); more are closed at once. */
  maxConnections: number;
}

export const DEFAULT_PORT = 50051;

export const DEFAULTS: Readonly<GrpcProtocolOptions> = Object.freeze({
  port: DEFAULT_PORT,
  maxMessageSize: 4 * 1024 * 1024,
  maxConcurrentStreams: 1000,
  maxHeaderListSize: 16 * 1024,
  requestTimeout: 30_000,
  writeTimeout: 30_000,
  keepaliveTime: 60_000,
  keepaliveTimeout: 20_000,
  connectTimeout: 3000,
  maxConnections: 4096,
});

/** JSON schema of the options (the kernel validates with it and fills the defaults). */
export const optionsSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    maxMessageSize: { type: 'integer', minimum: 1024, maximum: 0x7fffffff, default: DEFAULTS.maxMessageSize },
    maxConcurrentStreams: { type: 'integer', minimum: 1, maximum: 0x7fffffff, default: DEFAULTS.maxConcurrentStreams },
    maxHeaderListSize: { type: 'integer', minimum: 1024, maximum: 1024 * 1024, default: DEFAULTS.maxHeaderListSize },
    requestTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.requestTimeout },
    writeTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.writeTimeout },
    keepaliveTime: { type: 'integer', minimum: 10, default: DEFAULTS.keepaliveTime },
    keepaliveTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.keepaliveTimeout },
    connectTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.connectTimeout },
    maxConnections: { type: 'integer', minimum: 1, default: DEFAULTS.maxConnections },
  },
  additionalProperties: true,
} as const;

/** Fills defaults for options that did not pass through the schema (tests, hand-made contexts). */
export function normalizeOptions(raw: Readonly<Record<string, unknown>>): GrpcProtocolOptions {
  const out = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as Array<keyof GrpcProtocolOptions>) {
    const v = raw[key];
    const n = typeof v === 'string' && v !== '' ? Number(v) : v;
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) out[key] = n;
  }
  return out;
}

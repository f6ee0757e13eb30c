/** The `protocols: [{ name: http, ... }]` entry as the http protocol reads it. Every field has a default. */
export interface HttpProtocolOptions {
  /** Listen port when the entry gives none (default 8080, the usual alternative HTTP port). */
  port: number;
  /**
   * Largest request body the server reads and largest response body either side accepts
   * (default 8 MiB, the plexus protocol's `payload`). A declared `content-length` over it is
   * answered 413 before a byte of the body is read.
   */
  payload: number;
  /** Largest request head in bytes, Node's `maxHeaderSize` (default 16 KiB: a peer cannot make the parser hold more). */
  maxHeaderSize: number;
  /** Time a client has to send the whole request head, in ms (default 10000: a slowloris holds a socket no longer). */
  headersTimeout: number;
  /** Time a client has to send the whole request, in ms (default 30000: a body dribbled a byte a second is cut off). */
  requestTimeout: number;
  /** How long an idle keep-alive connection stays open, in ms (default 5000, Node's). */
  keepAliveTimeout: number;
  /**
   * How long a response may sit unsent because the client does not read, in ms (default 30000):
   * then the connection is closed. Node stops reading a connection's next requests while its
   * responses are unsent, so a non-reading client holds at most one response in memory, and only
   * this long.
   */
  writeTimeout: number;
  /** Most open connections the server accepts; more are closed at once (default 4096). */
  maxConnections: number;
  /** Most attachments (`plexus-attachment-*` headers) one request may carry (default 256, as the plexus protocol). */
  maxAttachments: number;
  /** Client side: most sockets per provider address (default 64; calls past it queue in the agent). */
  maxSockets: number;
  /** Client side: connect timeout in ms (default 3000). */
  connectTimeout: number;
  /** Send the provider's stack in error bodies (default false: stacks leak internals). */
  sendStack: boolean;
}

export const DEFAULT_PORT = 8080;
export const DEFAULT_PAYLOAD = 8 * 1024 * 1024;
export const DEFAULT_MAX_ATTACHMENTS = 256;

const DEFAULTS: HttpProtocolOptions = {
  port: DEFAULT_PORT,
  payload: DEFAULT_PAYLOAD,
  maxHeaderSize: 16 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  writeTimeout: 30_000,
  maxConnections: 4096,
  maxAttachments: DEFAULT_MAX_ATTACHMENTS,
  maxSockets: 64,
  connectTimeout: 3000,
  sendStack: false,
};

/** JSON schema of the options (the kernel validates with it and fills the defaults). */
export const optionsSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    // Only JSON travels over http: a config naming another serializer for it is an error at start.
    serializer: { type: 'string', enum: ['json'], default: 'json' },
    payload: { type: 'integer', minimum: 1024, maximum: 0x7fffffff, default: DEFAULTS.payload },
    maxHeaderSize: { type: 'integer', minimum: 1024, maximum: 1024 * 1024, default: DEFAULTS.maxHeaderSize },
    headersTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.headersTimeout },
    requestTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.requestTimeout },
    keepAliveTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.keepAliveTimeout },
    writeTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.writeTimeout },
    maxConnections: { type: 'integer', minimum: 1, default: DEFAULTS.maxConnections },
    maxAttachments: { type: 'integer', minimum: 0, maximum: 1900, default: DEFAULTS.maxAttachments },
    maxSockets: { type: 'integer', minimum: 1, maximum: 4096, default: DEFAULTS.maxSockets },
    connectTimeout: { type: 'integer', minimum: 1, default: DEFAULTS.connectTimeout },
    sendStack: { type: 'boolean', default: false },
  },
  additionalProperties: true,
} as const;

/** Fills defaults for options that did not pass through the schema (tests, hand-made contexts). */
export function normalizeOptions(raw: Readonly<Record<string, unknown>>): HttpProtocolOptions {
  const out = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as Array<keyof HttpProtocolOptions>) {
    const v = raw[key];
    if (key === 'sendStack') {
      out.sendStack = v === true || v === 'true';
      continue;
    }
    const n = typeof v === 'string' && v !== '' ? Number(v) : v;
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) (out as Record<string, number | boolean>)[key] = n;
  }
  return out;
}

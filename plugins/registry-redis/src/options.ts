import { DEFAULT_REGISTRY_ROOT, type Logger } from '@plexus/kernel/spi';
import { ERR_REDIS_BAD_OPTIONS } from './errors';

/** Options of a {@link RedisRegistry} (the `registry:` entry of plexus.yaml besides `type`). */
export interface RedisRegistryOptions {
  /** `host:port` of one Redis server (`[::1]:6379` for IPv6); the port defaults to 6379. Required. */
  address: string;
  /** First segment of every key, `/{root}/{interface}/{category}`. Default `plexus`. */
  root?: string;
  /** The server's `requirepass` (or the default user's ACL password). Default none. */
  password?: string;
  /** Database index (SELECT). Default 0. Pub/sub channels are shared by all databases, see the README. */
  db?: number;
  /**
   * Lease of a provider or consumer entry, ms. Default 15000: the entry is renewed every third of it
   * (5 s), so a provider that is SIGKILLed or cut off vanishes for subscribers 15–20 s later, while
   * a process may stall (GC, a blocked event loop) for up to ~10 s without being dropped. Dubbo's
   * 60 s would leave callers on a dead provider for a minute. At least 1000.
   */
  expirePeriod?: number;
  /**
   * Bound, ms, on waiting for a connection (when not connected) and, separately, on each command's
   * reply; also ioredis' connect timeout. Every step is bounded, so nothing hangs. Default 3000: a healthy server answers in well under a millisecond; this covers a busy server
   * or a failover pause while keeping `register` from stalling a start. At least 1.
   */
  requestTimeout?: number;
  /**
   * Most entries read from one category hash. Default 5000 (a few thousand providers of one
   * interface is already very large); beyond it the rest is ignored with one warning. With
   * `maxEntryBytes` it bounds what one read can cost: 5000 × 8 KiB = 40 MiB at worst.
   */
  maxEntries?: number;
  /**
   * Longest entry (URL text) read or written, bytes. Default 8192: a provider URL with a few hundred
   * methods fits; longer fields are filtered out on the server (only their first 100 bytes are
   * sent, for the warning) and `register` of a longer URL fails with ENTRY_TOO_LARGE.
   */
  maxEntryBytes?: number;
  /** Where warnings about skipped entries and lost connections go. */
  logger?: Logger;
}

/** Defaults of the options above (see each option for the reason). */
export const REDIS_DEFAULTS = Object.freeze({
  port: 6379,
  root: DEFAULT_REGISTRY_ROOT,
  db: 0,
  expirePeriod: 15_000,
  requestTimeout: 3_000,
  maxEntries: 5_000,
  maxEntryBytes: 8_192,
});

/** The options after defaults and checks. */
export interface ResolvedRedisOptions {
  readonly host: string;
  readonly port: number;
  /** `host:port` as given, for messages. */
  readonly address: string;
  readonly root: string;
  readonly password?: string;
  readonly db: number;
  readonly expirePeriod: number;
  readonly requestTimeout: number;
  readonly maxEntries: number;
  readonly maxEntryBytes: number;
}

/** JSON schema of the options, checked by the kernel before `create` (defaults stay in code). */
export const REDIS_OPTIONS_SCHEMA = {
  type: 'object',
  required: ['address'],
  properties: {
    address: { type: 'string', minLength: 1 },
    root: { type: 'string' },
    password: { type: 'string' },
    db: { type: 'integer', minimum: 0 },
    expirePeriod: { type: 'integer', minimum: 1000 },
    requestTimeout: { type: 'integer', minimum: 1 },
    maxEntries: { type: 'integer', minimum: 1 },
    maxEntryBytes: { type: 'integer', minimum: 64 },
  },
} as const;

function integer(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
    throw ERR_REDIS_BAD_OPTIONS(`\`${name}\` must be an integer of at least ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `host:port`, `host`, `[v6]:port` → host and port; anything else is BAD_OPTIONS. */
export function parseAddress(address: unknown): { host: string; port: number } {
  if (typeof address !== 'string' || address.trim() === '') {
    throw ERR_REDIS_BAD_OPTIONS('`address` is required, e.g. address: 127.0.0.1:6379');
  }
  const text = address.trim().replace(/^redis:\/\//i, '').replace(/\/+$/, '');
  if (text.includes(',')) throw ERR_REDIS_BAD_OPTIONS(`\`address\` names several servers (${address}); give one Redis server`);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/@\s]+))(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[3] === undefined ? REDIS_DEFAULTS.port : Number(m[3]);
  if (!m || port < 1 || port > 65535) throw ERR_REDIS_BAD_OPTIONS(`\`address\` must be host:port, got ${JSON.stringify(address)}`);
  return { host: m[1] ?? m[2], port };
}

/** Applies defaults and checks ranges; throws BAD_OPTIONS naming the option at fault. */
export function resolveOptions(options: Readonly<Record<string, unknown>>): ResolvedRedisOptions {
  const { host, port } = parseAddress(options.address);
  const root = options.root === undefined ? REDIS_DEFAULTS.root : options.root;
  if (typeof root !== 'string' || root.replace(/^\/+|\/+$/g, '') === '') {
    throw ERR_REDIS_BAD_OPTIONS(`\`root\` must be a non-empty string, got ${JSON.stringify(options.root)}`);
  }
  // The URL form (redis://host:port?password=1234) turns digits into a number.
  const password = typeof options.password === 'number' ? String(options.password) : options.password;
  if (password !== undefined && typeof password !== 'string') throw ERR_REDIS_BAD_OPTIONS('`password` must be a string');
  return {
    host,
    port,
    address: (options.address as string).trim(),
    root,
    ...(password ? { password } : {}),
    db: integer(options.db, 'db', REDIS_DEFAULTS.db, 0),
    expirePeriod: integer(options.expirePeriod, 'expirePeriod', REDIS_DEFAULTS.expirePeriod, 1000),
    requestTimeout: integer(options.requestTimeout, 'requestTimeout', REDIS_DEFAULTS.requestTimeout, 1),
    maxEntries: integer(options.maxEntries, 'maxEntries', REDIS_DEFAULTS.maxEntries, 1),
    maxEntryBytes: integer(options.maxEntryBytes, 'maxEntryBytes', REDIS_DEFAULTS.maxEntryBytes, 64),
  };
}

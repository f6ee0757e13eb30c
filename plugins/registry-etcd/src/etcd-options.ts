import { DEFAULT_REGISTRY_ROOT } from '@plexus/kernel/spi';
import { EtcdErrors } from './etcd-errors';

/** etcd's own default client address. */
export const DEFAULT_ETCD_ADDRESS = '127.0.0.1:2379';
/**
 * Lease TTL in ms. 10 s: a killed provider disappears from every consumer within 10 s, while a
 * keep-alive every TTL/3 (3.3 s) rides out a GC pause or an etcd leader election (~1 s).
 */
export const DEFAULT_ETCD_TTL = 10_000;
/** etcd raises any shorter TTL to its minimum, about 2 s (1.5 election timeouts, rounded up). */
export const MIN_ETCD_TTL = 2_000;
/**
 * Bound on one etcd request in ms. 3 s: a round trip plus an etcd leader election with default
 * settings, yet short enough that a dead server fails register/subscribe quickly and the
 * registry manager can retry.
 */
export const DEFAULT_ETCD_REQUEST_TIMEOUT = 3_000;
/**
 * Longest entry key read or written, in bytes. 8 KiB: a provider URL is usually under 2 KiB,
 * long method lists included; a longer key is someone else's garbage and is skipped.
 */
export const DEFAULT_ETCD_MAX_KEY_BYTES = 8_192;
/**
 * Most entries listed per (interface, category). 10000 providers of one interface is far past
 * any real deployment, and caps what a hostile writer can make every consumer hold.
 */
export const DEFAULT_ETCD_MAX_ENTRIES = 10_000;

/** Options of `EtcdRegistry`, as written in config (`registry: { type: etcd, ... }`). */
export interface EtcdRegistryOptions {
  /** `host:port` or a comma list of them (`http://host:port` accepted). Default `127.0.0.1:2379`. */
  address?: string;
  /** The first key segment, `/{root}/{interface}/{category}/{url}`. Default `plexus`. */
  root?: string;
  /** Lease TTL of provider and consumer entries, in ms (whole seconds, at least 2000). Default 10000. */
  ttl?: number;
  /** Bound on every etcd request, in ms. Default 3000. */
  requestTimeout?: number;
  /** Entry keys longer than this many bytes are skipped with a warning (and refused on register). Default 8192. */
  maxKeyBytes?: number;
  /** Entries listed per (interface, category); more are left out with a warning. Default 10000. */
  maxEntries?: number;
}

/** Options after validation, with every default applied. */
export interface ResolvedEtcdOptions {
  /** `http://host:port` for each endpoint. */
  readonly hosts: string[];
  /** The address as given, for messages. */
  readonly address: string;
  readonly root: string;
  /** Lease TTL in whole seconds. */
  readonly ttlSeconds: number;
  readonly requestTimeout: number;
  readonly maxKeyBytes: number;
  readonly maxEntries: number;
}

/** The `optionsSchema` of the `etcd` registry extension (other keys belong to the kernel's registry manager). */
export const etcdOptionsSchema = {
  type: 'object',
  properties: {
    address: { type: 'string', minLength: 1, default: DEFAULT_ETCD_ADDRESS },
    root: { type: 'string', minLength: 1, default: DEFAULT_REGISTRY_ROOT },
    ttl: { type: 'integer', minimum: MIN_ETCD_TTL, default: DEFAULT_ETCD_TTL },
    requestTimeout: { type: 'integer', minimum: 1, default: DEFAULT_ETCD_REQUEST_TIMEOUT },
    maxKeyBytes: { type: 'integer', minimum: 64, default: DEFAULT_ETCD_MAX_KEY_BYTES },
    maxEntries: { type: 'integer', minimum: 1, default: DEFAULT_ETCD_MAX_ENTRIES },
  },
  additionalProperties: true,
} as const;

function integer(options: Readonly<Record<string, unknown>>, name: string, fallback: number, min: number): number {
  const raw = options[name];
  if (raw === undefined || raw === null || raw === '') return fallback;
  // Environment variables and URL parameters arrive as strings.
  const value = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw EtcdErrors.OPTION(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  if (value < min) {
    const unit = name === 'ttl' || name === 'requestTimeout' ? ' (milliseconds)' : '';
    throw EtcdErrors.OPTION(name, `must be at least ${min}${unit}, got ${value}`);
  }
  return value;
}

/** Splits `host:port[,host:port]` (each optionally `http://`) into etcd3 hosts. */
export function parseEtcdAddress(address: string): string[] {
  const parts = address.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw EtcdErrors.ADDRESS(address, 'names no host');
  return parts.map((part) => {
    if (/^https:\/\//i.test(part)) throw EtcdErrors.ADDRESS(address, `uses https (${part})`);
    const bare = part.replace(/^(http|etcd):\/\//i, '').replace(/\/+$/, '');
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(bare);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw EtcdErrors.ADDRESS(address, `has "${part}", which is not host:port`);
    return `http://${m[1]}:${m[2]}`;
  });
}

/** Validates and completes options given in config or in code; throws a coded error on a bad value. */
export function resolveEtcdOptions(options: Readonly<Record<string, unknown>>): ResolvedEtcdOptions {
  const address = options.address ?? DEFAULT_ETCD_ADDRESS;
  if (typeof address !== 'string') throw EtcdErrors.OPTION('address', `must be a string, got ${JSON.stringify(address)}`);
  const root = options.root ?? DEFAULT_REGISTRY_ROOT;
  if (typeof root !== 'string' || root.replace(/\//g, '') === '') throw EtcdErrors.OPTION('root', `must be a non-empty key segment, got ${JSON.stringify(root)}`);
  const ttl = integer(options, 'ttl', DEFAULT_ETCD_TTL, MIN_ETCD_TTL);
  return {
    hosts: parseEtcdAddress(address),
    address,
    root,
    ttlSeconds: Math.ceil(ttl / 1000),
    requestTimeout: integer(options, 'requestTimeout', DEFAULT_ETCD_REQUEST_TIMEOUT, 1),
    maxKeyBytes: integer(options, 'maxKeyBytes', DEFAULT_ETCD_MAX_KEY_BYTES, 64),
    maxEntries: integer(options, 'maxEntries', DEFAULT_ETCD_MAX_ENTRIES, 1),
  };
}

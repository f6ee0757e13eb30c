import { DEFAULT_REGISTRY_ROOT } from '@plexus/kernel/spi';
import { NacosErrors } from './nacos-errors';

/** Nacos' own default client address. */
export const DEFAULT_NACOS_ADDRESS = '127.0.0.1:8848';
/** The Nacos group every entry is written in unless told otherwise (Nacos' and Dubbo's default). */
export const DEFAULT_NACOS_GROUP = 'DEFAULT_GROUP';
/**
 * Heartbeat period of provider and consumer instances, in ms. 5 s is the Nacos client's own
 * period: the server marks an instance unhealthy after 15 s without a beat and deletes it after
 * 30 s, so three beats may be lost (a GC pause, a failover to another server) before consumers
 * drop a living provider.
 */
export const DEFAULT_NACOS_BEAT_INTERVAL = 5_000;
/**
 * How often subscriptions read their lists again, in ms. 3 s: the v1 open API has no push to
 * HTTP clients, so this is how late a consumer learns of a new or dead provider, against one
 * service listing and one instance list per watched service name on every round.
 */
export const DEFAULT_NACOS_POLL_INTERVAL = 3_000;
/**
 * Bound on one HTTP request, in ms (body included). 3 s: a Nacos answer takes milliseconds; a
 * server that does not answer in 3 s is treated as down, so register/subscribe fail fast and the
 * registry manager retries, and the next server of `address` gets its chance.
 */
export const DEFAULT_NACOS_REQUEST_TIMEOUT = 3_000;
/**
 * Largest answer body read, in bytes. 4 MiB holds an instance list of several thousand providers
 * with their metadata; a larger body is someone's garbage and is dropped while it streams in,
 * never buffered whole.
 */
export const DEFAULT_NACOS_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** Options of `NacosRegistry`, as written in config (`registry: { type: nacos, ... }`). */
export interface NacosRegistryOptions {
  /** `host:port` or a comma list of them; the next one is tried when one fails. Default `127.0.0.1:8848`. */
  address?: string;
  /** Nacos namespace id; default `''`, the `public` namespace. */
  namespace?: string;
  /** Nacos group of every service and rule config. Default `DEFAULT_GROUP`. */
  group?: string;
  /** Login user when the server has auth enabled (with `password`). */
  username?: string;
  password?: string;
  /** Heartbeat period of provider/consumer instances, ms. Default 5000. */
  beatInterval?: number;
  /** Period of the reads behind subscriptions, ms. Default 3000. */
  pollInterval?: number;
  /** Bound on every HTTP request, ms. Default 3000. */
  requestTimeout?: number;
  /** Largest answer body read, bytes. Default 4 MiB. */
  maxResponseBytes?: number;
}

/** Options after validation, with every default applied. */
export interface ResolvedNacosOptions {
  /** Base URLs, `http://host:port`, in the order given. */
  readonly servers: string[];
  /** The address as given, for messages. */
  readonly address: string;
  readonly namespace: string;
  readonly group: string;
  readonly username?: string;
  readonly password?: string;
  readonly beatInterval: number;
  readonly pollInterval: number;
  readonly requestTimeout: number;
  readonly maxResponseBytes: number;
}

/** The `optionsSchema` of the `nacos` registry extension (other keys belong to the kernel's registry manager). */
export const nacosOptionsSchema = {
  type: 'object',
  properties: {
    address: { type: 'string', minLength: 1, default: DEFAULT_NACOS_ADDRESS },
    namespace: { type: 'string', default: '' },
    group: { type: 'string', minLength: 1, default: DEFAULT_NACOS_GROUP },
    username: { type: 'string', minLength: 1 },
    password: { type: 'string' },
    beatInterval: { type: 'integer', minimum: 10, default: DEFAULT_NACOS_BEAT_INTERVAL },
    pollInterval: { type: 'integer', minimum: 10, default: DEFAULT_NACOS_POLL_INTERVAL },
    requestTimeout: { type: 'integer', minimum: 1, default: DEFAULT_NACOS_REQUEST_TIMEOUT },
    maxResponseBytes: { type: 'integer', minimum: 1024, default: DEFAULT_NACOS_MAX_RESPONSE_BYTES },
    // Accepted only as the default: resolveNacosOptions explains why another value is refused.
    root: { type: 'string' },
  },
  additionalProperties: true,
} as const;

function integer(options: Readonly<Record<string, unknown>>, name: string, fallback: number, min: number): number {
  const raw = options[name];
  if (raw === undefined || raw === null || raw === '') return fallback;
  // Environment variables and URL parameters arrive as strings.
  const value = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw NacosErrors.OPTION(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  if (value < min) throw NacosErrors.OPTION(name, `must be at least ${min}, got ${value}`);
  return value;
}

function text(options: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const raw = options[name];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  if (typeof raw !== 'string') throw NacosErrors.OPTION(name, `must be a string, got ${JSON.stringify(raw)}`);
  return raw;
}

/** Splits `host:port[,host:port]` (each optionally `http://` or `https://`) into base URLs. */
export function parseNacosAddress(address: string): string[] {
  const parts = address.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw NacosErrors.ADDRESS(address, 'names no server');
  return parts.map((part) => {
    const scheme = /^https:\/\//i.test(part) ? 'https' : 'http';
    const bare = part.replace(/^(https?|nacos):\/\//i, '').replace(/\/+(nacos\/?)?$/i, '');
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(bare);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw NacosErrors.ADDRESS(address, `has "${part}", which is not host:port`);
    return `${scheme}://${m[1]}:${m[2]}`;
  });
}

/** Validates and completes options given in config or in code; throws a coded error on a bad value. */
export function resolveNacosOptions(options: Readonly<Record<string, unknown>>): ResolvedNacosOptions {
  const address = text(options, 'address') ?? DEFAULT_NACOS_ADDRESS;
  const root = text(options, 'root');
  // Nacos service names have no root segment (Dubbo's convention); namespace and group separate tenants.
  if (root !== undefined && root.replace(/^\/+|\/+$/g, '') !== DEFAULT_REGISTRY_ROOT) {
    throw NacosErrors.OPTION('root', `is not used by Nacos (service names follow Dubbo's {category}:{interface}:{version}:{group}); separate registries with the namespace or group options instead of root "${root}"`);
  }
  const namespace = text(options, 'namespace') ?? '';
  const group = text(options, 'group') ?? DEFAULT_NACOS_GROUP;
  if (group.trim() === '' || group.includes('@@')) throw NacosErrors.OPTION('group', `must be a non-empty Nacos group name without "@@", got ${JSON.stringify(group)}`);
  const username = text(options, 'username');
  const password = text(options, 'password');
  if ((username === undefined || username === '') !== (password === undefined)) {
    throw NacosErrors.OPTION(username ? 'password' : 'username', 'must be given together with the other: username and password log in to Nacos together');
  }
  return {
    servers: parseNacosAddress(address),
    address,
    namespace,
    group,
    ...(username ? { username, password } : {}),
    beatInterval: integer(options, 'beatInterval', DEFAULT_NACOS_BEAT_INTERVAL, 10),
    pollInterval: integer(options, 'pollInterval', DEFAULT_NACOS_POLL_INTERVAL, 10),
    requestTimeout: integer(options, 'requestTimeout', DEFAULT_NACOS_REQUEST_TIMEOUT, 1),
    maxResponseBytes: integer(options, 'maxResponseBytes', DEFAULT_NACOS_MAX_RESPONSE_BYTES, 1024),
  };
}

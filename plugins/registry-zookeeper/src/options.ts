import { DEFAULT_REGISTRY_ROOT } from '@plexus/kernel/spi';
import { ERR_ZOOKEEPER_BAD_OPTIONS } from './errors';

/** Options of `ZookeeperRegistry` (`registry: { type: zookeeper, address, ... }`). */
export interface ZookeeperRegistryOptions {
  /** `host:port`, or a comma list of them for an ensemble. Required. */
  address: string;
  /** The first path segment of every node (Dubbo's `/dubbo`). Default `plexus`. */
  root?: string;
  /**
   * Session timeout asked of the server, in ms. Default 15000: a provider killed without a chance
   * to unregister disappears from every consumer's list this long after its death, while a GC
   * pause or a short network blip (a few seconds) does not cost it its entries. The server clamps
   * the value to its `minSessionTimeout`..`maxSessionTimeout` (by default 2..20 ticks, 4..40 s).
   */
  sessionTimeout?: number;
  /**
   * How long an operation waits for a connection when there is none (first connect, or while the
   * client reconnects), in ms. Default 5000: enough for a local or LAN ensemble to answer, short
   * enough that the registry manager's retry, not a hanging start, handles an outage.
   */
  connectTimeout?: number;
  /**
   * How long one operation may take on a live connection, in ms. Default 5000. A request with no
   * answer in that time fails with PLEXUS_ERR_ZOOKEEPER_TIMEOUT and the connection is reset (the
   * driver has no read timeout of its own, so this is how a stalled server is noticed).
   */
  requestTimeout?: number;
  /**
   * Entries read per category (and interfaces per `services()`); the rest are skipped with a
   * warning. Default 10000: far above any real service's providers, and it caps the work one
   * notification can cost when someone floods a folder with nodes.
   */
  maxChildren?: number;
  /**
   * Longest entry name (the url-encoded URL) read or written, in characters. Default 8192: a
   * provider URL with a long methods list is about 1-2 KiB; anything longer is not one of ours.
   */
  maxEntryLength?: number;
}

/** Defaults of every optional option, as documented above and in the README. */
export const ZOOKEEPER_DEFAULTS = Object.freeze({
  root: DEFAULT_REGISTRY_ROOT,
  sessionTimeout: 15_000,
  connectTimeout: 5_000,
  requestTimeout: 5_000,
  maxChildren: 10_000,
  maxEntryLength: 8_192,
});

export type ResolvedOptions = Required<ZookeeperRegistryOptions>;

/** The plugin's JSON schema for `ctx.options`; keys other than these belong to the registry manager. */
export const ZOOKEEPER_OPTIONS_SCHEMA = {
  type: 'object',
  required: ['address'],
  properties: {
    address: { type: 'string', minLength: 1 },
    root: { type: 'string', default: ZOOKEEPER_DEFAULTS.root },
    sessionTimeout: { type: 'integer', minimum: 1, default: ZOOKEEPER_DEFAULTS.sessionTimeout },
    connectTimeout: { type: 'integer', minimum: 1, default: ZOOKEEPER_DEFAULTS.connectTimeout },
    requestTimeout: { type: 'integer', minimum: 1, default: ZOOKEEPER_DEFAULTS.requestTimeout },
    maxChildren: { type: 'integer', minimum: 1, default: ZOOKEEPER_DEFAULTS.maxChildren },
    maxEntryLength: { type: 'integer', minimum: 64, default: ZOOKEEPER_DEFAULTS.maxEntryLength },
  },
} as const;

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function positive(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) throw ERR_ZOOKEEPER_BAD_OPTIONS(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Checks and completes options, whether they came through the plugin's schema or straight from
 * code (`new ZookeeperRegistry({ address })`). Throws PLEXUS_ERR_ZOOKEEPER_BAD_OPTIONS.
 */
export function resolveOptions(raw: Readonly<Record<string, unknown>>): ResolvedOptions {
  const address = raw.address;
  if (typeof address !== 'string' || address.trim() === '') throw ERR_ZOOKEEPER_BAD_OPTIONS('address is required ("host:port" or a comma list)');
  const hosts = address.split(',').map((h) => h.trim());
  for (const h of hosts) {
    const m = HOST_PORT.exec(h);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) throw ERR_ZOOKEEPER_BAD_OPTIONS(`address entry ${JSON.stringify(h)} is not host:port`);
  }
  const root = raw.root === undefined ? ZOOKEEPER_DEFAULTS.root : raw.root;
  if (typeof root !== 'string') throw ERR_ZOOKEEPER_BAD_OPTIONS('root must be a string');
  const segments = root.replace(/^\/+|\/+$/g, '').split('/');
  // ZooKeeper refuses empty, "." and ".." segments and control characters in paths.
  if (segments.some((s) => s === '' || s === '.' || s === '..' || /[\u0000-\u001f\u007f]/.test(s))) {
    throw ERR_ZOOKEEPER_BAD_OPTIONS(`root ${JSON.stringify(root)} is not a usable ZooKeeper path`);
  }
  return {
    address: hosts.join(','),
    root: segments.join('/'),
    sessionTimeout: positive(raw.sessionTimeout, 'sessionTimeout', ZOOKEEPER_DEFAULTS.sessionTimeout),
    connectTimeout: positive(raw.connectTimeout, 'connectTimeout', ZOOKEEPER_DEFAULTS.connectTimeout),
    requestTimeout: positive(raw.requestTimeout, 'requestTimeout', ZOOKEEPER_DEFAULTS.requestTimeout),
    maxChildren: positive(raw.maxChildren, 'maxChildren', ZOOKEEPER_DEFAULTS.maxChildren),
    maxEntryLength: positive(raw.maxEntryLength, 'maxEntryLength', ZOOKEEPER_DEFAULTS.maxEntryLength, 64),
  };
}

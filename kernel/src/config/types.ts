/**
 * The configuration model: what `plexus.yaml`, `PLEXUS_*` variables and code produce after
 * normalisation. Keys follow Dubbo's names so Dubbo users feel at home.
 */

/** Keys that may stand at provider/consumer defaults, service/reference and method level. */
export interface CallKeys {
  timeout?: number;
  retries?: number;
  cluster?: string;
  loadbalance?: string;
  serializer?: string;
  compressor?: string;
  compressThreshold?: number;
  filter?: string[];
  weight?: number;
  warmup?: number;
  delay?: number;
  group?: string;
  version?: string;
  tag?: string;
  token?: string | boolean;
  tps?: number;
  actives?: number;
  executes?: number;
  circuitbreaker?: { errorRate?: number; slowCallMs?: number; window?: number; minCalls?: number; openMs?: number };
  mock?: string;
  forks?: number;
  sticky?: boolean;
  idempotent?: boolean;
  oneWay?: boolean;
  shutdownTimeout?: number;
  /** Any key a plugin defines for itself. */
  [key: string]: unknown;
}

export interface MethodConfig extends CallKeys {}

export interface ProtocolConfig {
  name: string;
  host?: string;
  port?: number;
  /** Unix socket path instead of host/port. */
  path?: string;
  serializer?: string;
  compressor?: string;
  transport?: string;
  /** Largest message in bytes (default 8 MiB). */
  payload?: number;
  /** Client connections per provider address (default 1). */
  connections?: number;
  heartbeat?: number;
  tls?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface RegistryConfig {
  type: string;
  address?: string;
  [key: string]: unknown;
}

export interface ServiceConfig extends CallKeys {
  interface: string;
  /** A module path (resolved from the config file's folder) or, in code, the object itself. */
  implementation?: unknown;
  /** Protocol names this service exports on; default all. */
  protocol?: string[];
  /** Restrict callable methods to these names. */
  methods?: Record<string, MethodConfig>;
  executor?: string;
  threads?: number;
  queues?: number;
}

export interface ReferenceConfig extends CallKeys {
  interface: string;
  /** Direct provider URL(s), comma separated; bypasses the registry. */
  url?: string;
  protocol?: string;
  check?: boolean;
  methods?: Record<string, MethodConfig>;
}

export interface PlexusConfig {
  application: { name: string; [key: string]: unknown };
  plugins: string[];
  registry?: RegistryConfig;
  protocols: ProtocolConfig[];
  provider: CallKeys & { executor?: string; threads?: number; queues?: number };
  consumer: CallKeys & { check?: boolean };
  services: ServiceConfig[];
  references: Record<string, ReferenceConfig>;
  /** Per-extension options: `extensions: { loadbalance: { p2c: { choices: 2 } } }`. */
  extensions: Record<string, Record<string, Record<string, unknown>>>;
  /** The folder the config came from; relative module paths resolve against it. */
  baseDir: string;
  /** Where each value came from, by key path: 'default' | 'file' | 'env' | 'code'. */
  sources: Record<string, ConfigSource>;
}

export type ConfigSource = 'default' | 'file' | 'env' | 'code';

/** What users pass in: everything optional, `protocol` or `protocols`. */
export type PlexusConfigInput = Partial<Omit<PlexusConfig, 'protocols' | 'sources' | 'baseDir' | 'application'>> & {
  application?: { name?: string; [key: string]: unknown };
  protocol?: Partial<ProtocolConfig>;
  protocols?: Partial<ProtocolConfig>[];
  baseDir?: string;
  [key: string]: unknown;
};

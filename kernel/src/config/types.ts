/**
 * The configuration model: what `plexus.yaml`, `PLEXUS_*` variables and code produce after
 * normalisation. Keys follow Dubbo's names so Dubbo users feel at home.
 */
import type { QosConfig } from '../spi/qos';

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
  idempotent?: boolean;
  oneWay?: boolean;
  /** Consumer side: the method answers with a stream (the proxy returns an AsyncIterable). */
  stream?: boolean;
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
  /** Names the registry in logs and the snapshot (default: its type). */
  id?: string;
  /** The snapshot file, or false for none. */
  snapshot?: string | boolean;
  [key: string]: unknown;
}

export interface ServiceConfig extends CallKeys {
  interface: string;
  /** A module path (resolved from the config file's folder) or, in code, the object itself. */
  implementation?: unknown;
  /** Protocol names this service exports on; default all. */
  protocol?: string[];
  /** Per-method settings (they do not limit what is callable). */
  methods?: Record<string, MethodConfig>;
  /** The allow-list of callable methods; default every own method of the implementation. */
  expose?: string[];
  /** A `.proto` file (resolved from the config file's folder) declaring the service, for the grpc protocol. */
  proto?: string;
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
  /** Routers of this reference, in order. */
  router?: string[];
  /** A `.proto` file (resolved from the config file's folder) declaring the service, for the grpc protocol. */
  proto?: string;
  methods?: Record<string, MethodConfig>;
}

export interface PlexusConfig {
  application: { name: string; [key: string]: unknown };
  plugins: string[];
  registry?: RegistryConfig;
  /** Further registries (`registries:`); entries may also be URLs. */
  registries?: Array<RegistryConfig | string>;
  protocols: ProtocolConfig[];
  /** The admin server (`@plexus/qos`): off when absent; `host` defaults to 127.0.0.1. */
  qos?: QosConfig;
  provider: CallKeys & { executor?: string; threads?: number; queues?: number };
  consumer: CallKeys & { check?: boolean; router?: string[] };
  services: ServiceConfig[];
  references: Record<string, ReferenceConfig>;
  /** Per-extension options: `extensions: { loadbalance: { p2c: { choices: 2 } } }`. */
  extensions: Record<string, Record<string, Record<string, unknown>>>;
  /** The folder the config came from; relative module paths resolve against it. */
  baseDir: string;
  /** Where each value came from, by key path: 'default' | 'file' | 'env' | 'code'. */
  sources: Record<string, ConfigSource>;
  /** Console logger level; unset = the logger's own default (PLEXUS_LOG_LEVEL, else info). */
  logLevel?: LogLevel;
  /** The config file that was read, absolute; unset when there was none. */
  file?: string;
  /** For values from a file or the environment, by key path: `plexus.yaml:12:5` or `PLEXUS_CONSUMER_TIMEOUT`. */
  origins?: Record<string, string>;
  /** Keys that plugins read (`tps`, `token`, ...), found in the config; `start()` wants a plugin claiming each. */
  pluginKeys?: PluginKeyUse[];
}

/** One use of a plugin-read key in the config. */
export interface PluginKeyUse {
  key: string;
  /** Where it stands, as messages show it: `plexus.yaml:12:5 services[0].tps`. */
  at: string;
}

/** The console logger's levels, least severe first; `silent` logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export type ConfigSource = 'default' | 'file' | 'env' | 'code';

/** What users pass in: everything optional, `protocol` or `protocols`. */
export type PlexusConfigInput = Partial<
  Omit<PlexusConfig, 'protocols' | 'sources' | 'baseDir' | 'application' | 'registry' | 'file' | 'origins' | 'pluginKeys'>
> & {
  application?: { name?: string; [key: string]: unknown };
  /** A mapping, or a URL: `zookeeper://127.0.0.1:2181`, `local:///var/plexus`; `null` or `none` = no registry. */
  registry?: RegistryConfig | string | null;
  /** One protocol, or just its name. */
  protocol?: Partial<ProtocolConfig> | string;
  protocols?: (Partial<ProtocolConfig> | string)[];
  baseDir?: string;
  [key: string]: unknown;
};

/**
 * The admin server (DESIGN §11): `qos: { host, port, token }` in the config starts one extension of
 * point `qos` (default name `http`, found in `@plexus/qos`) when the application starts, and closes
 * it at the end of its stop. The kernel only hands it the application's `Admin` view; the HTTP
 * parsing, the endpoints and the console are the plugin's.
 * Scope: one per application; its methods are called from the event loop only.
 */
export interface QosServer {
  /** Listens; rejects with a coded error (PLEXUS_ERR_QOS_PORT_IN_USE names `qos.port`) when it cannot. */
  start(): Promise<void>;
  /** Stops listening and ends open connections. Safe to call more than once. */
  close(): Promise<void>;
  /** Where it listens once started (the real port when port 0 was asked). */
  address(): { host: string; port: number } | undefined;
}

export const QOS = Symbol.for('plexus.qos');
export const DEFAULT_QOS = 'http';

/**
 * The application as the admin server sees it: the `Admin` held in the application's container
 * under this token (`ctx.inject(ADMIN)` in a `qos` extension's `create`).
 */
export const ADMIN = Symbol.for('plexus.admin');

/** `qos:` of the config. */
export interface QosConfig {
  /** Interface to listen on. Default 127.0.0.1: the admin endpoints can take services offline. */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** When set, mutating endpoints want it (`Authorization: Bearer <token>`). */
  token?: string;
}

/** One exported service, as `GET /ls` shows it (DESIGN §11, contract). */
export interface ServiceView {
  interface: string;
  version: string;
  group: string;
  urls: string[];
  online: boolean;
}

/** One provider of a reference, as its directory holds it now. */
export interface ProviderView {
  url: string;
  address: string;
  weight: number;
  available: boolean;
}

/** One reference, as `GET /ls` shows it (DESIGN §11, contract). */
export interface ReferenceView {
  id: string;
  interface: string;
  version: string;
  group: string;
  providers: ProviderView[];
}

/** The whole of `GET /ls` (DESIGN §11, contract). */
export interface AppDescription {
  application: string;
  services: ServiceView[];
  references: ReferenceView[];
}

/**
 * What the admin server may read and do. Offline/online unregister and register again without
 * stopping anything: in-flight and direct calls keep being served.
 */
export interface Admin {
  readonly application: string;
  readonly config: QosConfig;
  /** True while the process serves at all (from construction until the admin server closes). */
  readonly live: boolean;
  /**
   * Started, not stopping, and online: false before `start()` ends, while a stop runs, and while
   * every service is offline (`offline()` without an interface).
   */
  readonly ready: boolean;
  /** Where the admin server listens once started (the real port when `qos.port` is 0). */
  address(): { host: string; port: number } | undefined;
  describe(): AppDescription;
  /**
   * Unregisters the services of `iface` (every service when omitted) from every registry; they
   * stay exported. Resolves with the service keys taken offline. An unknown interface is a coded
   * error (PLEXUS_ERR_QOS_UNKNOWN_SERVICE) listing the known ones.
   */
  offline(iface?: string): Promise<string[]>;
  /** Registers them again. Refused (PLEXUS_ERR_QOS_STOPPING) once the application is stopping. */
  online(iface?: string): Promise<string[]>;
  /**
   * Sets the load-balancing weight of one provider (`host:port`) of `iface` for every consumer,
   * through a dynamic override (`app.rules.override`). Resolves with the override's id.
   */
  weight(iface: string, address: string, weight: number): Promise<string>;
}

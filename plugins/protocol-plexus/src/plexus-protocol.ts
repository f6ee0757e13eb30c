import {
  ActiveCalls,
  definePlugin,
  type ConnectOptions,
  type ExtensionContext,
  type Exporter,
  type Invoker,
  type Logger,
  type Protocol,
  type ServiceInvoker,
  type Transport,
  type URL,
} from '@plexus/kernel/spi';
import { CodecTable } from './codec-table';
import { ConnectionPool } from './connection-pool';
import { normalizeOptions, optionsSchema, type PlexusProtocolOptions } from './options';
import { PlexusInvoker, type RouteCache } from './plexus-invoker';
import type { ProtocolCore } from './protocol-core';
import { ServerEndpoint } from './server-endpoint';

/** How long a released connection waits for answers still due (calls' own deadlines usually end it first). */
const RELEASED_CONNECTION_GRACE_MS = 60_000;

/**
 * The `plexus` protocol: a binary, multiplexed request/response protocol over a byte transport
 * (TCP by default). `docs/reference/protocol.md` specifies the bytes.
 *
 * Scope: one instance per application, shared by every service and reference. Providers: one
 * server per listen address, routing by service key. Consumers: one pool of `connections`
 * (default 1) multiplexed connections per provider address, shared by every reference to it,
 * opened on the first call. Deadlines belong to the kernel: the remaining budget travels in the
 * request header, and a call the kernel cancels sends a cancel frame so the provider stops too.
 */
export class PlexusProtocol implements Protocol, ProtocolCore {
  readonly defaultPort: number;
  readonly options: PlexusProtocolOptions;
  readonly logger: Logger;
  readonly codecs: CodecTable;

  private readonly ctx: ExtensionContext;
  private transportInstance: Transport | undefined;
  private readonly endpoints = new Map<string, ServerEndpoint>();
  private readonly pools = new Map<string, ConnectionPool>();
  private readonly routes: RouteCache = new Map();
  private draining_ = false;
  private destroyed = false;
  private readonly calls = new ActiveCalls();

  constructor(ctx: ExtensionContext) {
    this.ctx = ctx;
    this.options = normalizeOptions(ctx.options);
    this.defaultPort = this.options.port;
    this.logger = ctx.logger;
    this.codecs = new CodecTable(ctx);
  }

  get draining(): boolean {
    return this.draining_;
  }

  /** Provider requests running now. */
  get active(): number {
    return this.calls.count;
  }

  transport(): Transport {
    return (this.transportInstance ??= this.ctx.resolve<Transport>('transport', this.options.transport));
  }

  async export(service: ServiceInvoker, url: URL): Promise<Exporter> {
    const { path } = this.options;
    const key = path ?? `${url.host}:${url.port}`;
    let endpoint = this.endpoints.get(key);
    if (endpoint === undefined) {
      const ep = new ServerEndpoint(this);
      endpoint = ep;
      this.endpoints.set(key, ep);
      ep.listening = this.transport()
        .listen(
          {
            host: path ? undefined : url.host || undefined,
            port: path ? undefined : url.port,
            path,
            tls: this.options.tls,
            heartbeat: this.options.heartbeat,
            heartbeatMisses: this.options.heartbeatMisses,
          },
          ep,
        )
        .then(
          (server) => {
            ep.server = server;
            // A port-0 export learns its port; later exports naming the real port share the server.
            if (!path && url.port === 0) this.endpoints.set(`${url.host}:${server.port}`, ep);
            return server;
          },
          (err: unknown) => {
            if (this.endpoints.get(key) === ep) this.endpoints.delete(key);
            throw err;
          },
        );
    }
    const server = await (endpoint.listening as Promise<unknown>).then(() => endpoint.server!);
    const previous = endpoint.services.get(service.serviceKey);
    if (previous !== undefined && previous !== service) {
      this.logger.warn(`service ${service.serviceKey} was exported twice at ${server.address}; the newer export answers`);
    }
    endpoint.services.set(service.serviceKey, service);
    const boundUrl = !path && url.port === 0 ? url.withAddress(url.host, server.port) : url;
    const ep = endpoint;
    let exported = true;
    return {
      url: boundUrl,
      invoker: service,
      unexport: async () => {
        if (!exported) return;
        exported = false;
        if (ep.services.get(service.serviceKey) === service) ep.services.delete(service.serviceKey);
        if (ep.services.size === 0) await this.closeEndpoint(ep);
      },
    };
  }

  refer(url: URL): Invoker {
    const address = url.address;
    let pool = this.pools.get(address);
    if (pool === undefined) {
      pool = new ConnectionPool(this, address, this.connectOptions(url), Math.max(1, Math.min(64, url.getNumber('connections', this.options.connections))));
      this.pools.set(address, pool);
    }
    pool.refs++;
    return new PlexusInvoker(url, this, pool, this.routes, this.releasePool);
  }

  async drain(timeoutMs: number): Promise<void> {
    this.draining_ = true;
    for (const endpoint of new Set(this.endpoints.values())) endpoint.announceClosing();
    await this.calls.drain(timeoutMs);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    const endpoints = [...new Set(this.endpoints.values())];
    this.endpoints.clear();
    await Promise.all(endpoints.map((ep) => this.closeEndpoint(ep)));
    this.calls.release();
  }

  // ---- ProtocolCore ----

  requestStarted(): void {
    this.calls.enter();
  }

  requestFinished(): void {
    this.calls.leave();
  }

  // ---- internals ----

  private readonly releasePool = (pool: ConnectionPool): void => {
    if (--pool.refs > 0) return;
    if (this.pools.get(pool.address) === pool) this.pools.delete(pool.address);
    // A provider that left the registry list (a graceful stop deregisters first) still answers
    // the calls it accepted: the connection closes when they are done, not under them.
    pool.closeWhenIdle(RELEASED_CONNECTION_GRACE_MS);
  };


  private async closeEndpoint(ep: ServerEndpoint): Promise<void> {
    for (const [key, value] of this.endpoints) if (value === ep) this.endpoints.delete(key);
    const server = ep.server ?? (await ep.listening?.catch(() => undefined));
    await server?.close();
  }

  private connectOptions(url: URL): ConnectOptions {
    const o = this.options;
    const socketPath = url.params.path;
    return {
      host: socketPath ? undefined : url.host,
      port: socketPath ? undefined : url.port,
      path: socketPath || undefined,
      tls: o.tls,
      heartbeat: o.heartbeat,
      heartbeatMisses: o.heartbeatMisses,
      connectTimeout: o.connectTimeout,
    };
  }
}

export default definePlugin({
  name: '@plexus/protocol-plexus',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'protocol',
      name: 'plexus',
      optionsSchema: optionsSchema as unknown as Record<string, unknown>,
      // The transport, serializer and compressor its options name must exist: checked at start.
      requires: [
        { point: 'transport', option: 'transport' },
        { point: 'serializer', option: 'serializer' },
        { point: 'compressor', option: 'compressor' },
      ],
      create: (ctx) => new PlexusProtocol(ctx),
    },
  ],
});

import {
  ActiveCalls,
  definePlugin,
  type ExtensionContext,
  type Exporter,
  type Invoker,
  type Logger,
  type Protocol,
  type Serializer,
  type ServiceInvoker,
  type URL,
} from '@plexus/kernel/spi';
import type { HttpCore } from './http-core';
import { HttpEndpoint } from './http-endpoint';
import { AgentHandle, HttpInvoker } from './http-invoker';
import { normalizeOptions, optionsSchema, type HttpProtocolOptions } from './options';

/**
 * The `http` protocol: JSON over HTTP/1.1 with keep-alive, so curl, browsers and any HTTP client
 * can call a Plexus service: `POST /<interface>/<method>` with a JSON array of arguments.
 *
 * Scope: one instance per application, shared by every service and reference. Providers: one
 * `node:http` server per listen address, routing by service key. Consumers: one keep-alive
 * `http.Agent` per provider address (at most `maxSockets` sockets), shared by every reference to
 * it. Only the `json` serializer travels; deadlines are the kernel's (the remaining budget rides
 * in `plexus-timeout`, and the kernel's cancel aborts the request).
 */
export class HttpProtocol implements Protocol, HttpCore {
  readonly defaultPort: number;
  readonly options: HttpProtocolOptions;
  readonly logger: Logger;
  private readonly ctx: ExtensionContext;
  private serializer: Serializer | undefined;
  private readonly endpoints = new Map<string, HttpEndpoint>();
  private readonly agents = new Map<string, AgentHandle>();
  private draining_ = false;
  private destroyed = false;
  private readonly calls = new ActiveCalls();

  constructor(ctx: ExtensionContext) {
    this.ctx = ctx;
    this.options = normalizeOptions(ctx.options);
    this.defaultPort = this.options.port;
    this.logger = ctx.logger;
  }

  get draining(): boolean {
    return this.draining_;
  }

  /** Provider requests running now. */
  get active(): number {
    return this.calls.count;
  }

  json(): Serializer {
    return (this.serializer ??= this.ctx.resolve<Serializer>('serializer', 'json'));
  }

  async export(service: ServiceInvoker, url: URL): Promise<Exporter> {
    this.json(); // a missing json serializer fails the export, not the first call
    const key = `${url.host}:${url.port}`;
    let endpoint = this.endpoints.get(key);
    if (endpoint === undefined) {
      const ep = new HttpEndpoint(this);
      endpoint = ep;
      this.endpoints.set(key, ep);
      ep.listening = ep.listen(url.host || undefined, url.port).then(
        (port) => {
          // A port-0 export learns its port; later exports naming the real port share the server.
          if (url.port === 0) this.endpoints.set(`${url.host}:${port}`, ep);
          return port;
        },
        (err: unknown) => {
          if (this.endpoints.get(key) === ep) this.endpoints.delete(key);
          throw err;
        },
      );
    }
    const port = await endpoint.listening!;
    const previous = endpoint.services.get(service.serviceKey);
    if (previous !== undefined && previous !== service) {
      this.logger.warn(`service ${service.serviceKey} was exported twice at ${endpoint.address}; the newer export answers`);
    }
    endpoint.services.set(service.serviceKey, service);
    const ep = endpoint;
    let exported = true;
    return {
      url: url.port === 0 ? url.withAddress(url.host, port) : url,
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
    let handle = this.agents.get(address);
    if (handle === undefined) {
      handle = new AgentHandle(url.host, url.port || this.defaultPort, address, this);
      this.agents.set(address, handle);
    }
    handle.refs++;
    return new HttpInvoker(url, this, handle, this.releaseAgent, () => this.destroyed);
  }

  async drain(timeoutMs: number): Promise<void> {
    this.draining_ = true;
    // Idle keep-alive connections close now; busy ones get `connection: close` on their answer.
    for (const ep of new Set(this.endpoints.values())) ep.server.closeIdleConnections();
    await this.calls.drain(timeoutMs);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const handle of this.agents.values()) handle.agent.destroy();
    this.agents.clear();
    const endpoints = [...new Set(this.endpoints.values())];
    this.endpoints.clear();
    await Promise.all(endpoints.map((ep) => ep.close()));
    this.calls.release();
  }

  requestStarted(): void {
    this.calls.enter();
  }

  requestFinished(): void {
    this.calls.leave();
  }

  private readonly releaseAgent = (handle: AgentHandle): void => {
    if (--handle.refs > 0) return;
    if (this.agents.get(handle.address) === handle) this.agents.delete(handle.address);
    handle.release();
  };


  private async closeEndpoint(ep: HttpEndpoint): Promise<void> {
    for (const [key, value] of this.endpoints) if (value === ep) this.endpoints.delete(key);
    await ep.listening?.catch(() => undefined);
    await ep.close();
  }
}

export default definePlugin({
  name: '@plexus/protocol-http',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'protocol',
      name: 'http',
      optionsSchema: optionsSchema as unknown as Record<string, unknown>,
      // JSON is the only body format: the json serializer must be there, checked at start.
      requires: [{ point: 'serializer', option: 'serializer' }],
      create: (ctx) => new HttpProtocol(ctx),
    },
  ],
});

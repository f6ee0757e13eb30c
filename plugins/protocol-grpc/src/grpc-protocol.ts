import * as path from 'node:path';
import {
  ActiveCalls,
  CONFIG,
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
import { loadProto, type ProtoService } from '@plexus/serializer-protobuf';
import type { GrpcCore } from './grpc-core';
import { GrpcInvoker, SessionHandle } from './grpc-invoker';
import { GrpcServer } from './grpc-server';
import { normalizeOptions, optionsSchema, type GrpcProtocolOptions } from './options';
import { ServiceCodec } from './service-codec';

/**
 * The `grpc` protocol (also answering as `tri`, Dubbo 3's Triple, which is gRPC on the wire): gRPC
 * over HTTP/2 with `node:http2`, wire-compatible with grpc-js. Unary calls; streaming methods are
 * answered UNIMPLEMENTED until the kernel streams.
 *
 * Scope: one instance per application, shared by every service and reference. Providers: one
 * HTTP/2 server per listen address, routing `/<package.Service>/<Method>` to the service whose
 * interface is that full name. Consumers: one HTTP/2 connection per provider address, shared by
 * every reference to it. A service or reference with `proto:` speaks protobuf from that file
 * (path relative to the config file); one without speaks `application/grpc+json`. Deadlines are
 * the kernel's: the remaining budget rides in `grpc-timeout`, and the kernel's cancel resets the stream.
 */
export class GrpcProtocol implements Protocol, GrpcCore {
  readonly defaultPort: number;
  readonly options: GrpcProtocolOptions;
  readonly logger: Logger;
  private readonly ctx: ExtensionContext;
  private json: Serializer | undefined;
  private readonly servers = new Map<string, GrpcServer>();
  private readonly sessions = new Map<string, SessionHandle>();
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

  /** Provider calls running now. */
  get active(): number {
    return this.calls.count;
  }

  /**
   * The codec of a service or reference: its `proto:` file's service when it names one (loaded
   * now, so a malformed file fails `start()` with its file and line), else JSON.
   */
  codecOf(url: URL): ServiceCodec {
    const json = (this.json ??= this.ctx.resolve<Serializer>('serializer', 'json'));
    const file = url.params.proto;
    let proto: ProtoService | undefined;
    if (file) proto = loadProto(path.resolve(this.baseDir(), file), { maxMessageSize: this.options.maxMessageSize }).service(url.path);
    // Without a .proto, a serializer the service or reference names carries the bodies (grpc-js
    // clients with their own serialize functions, e.g. msgpack); with one, the .proto decides.
    const named = url.params.serializer;
    if (proto === undefined && named && named !== 'json') return new ServiceCodec(url.path, undefined, this.ctx.resolve<Serializer>('serializer', named), named, json);
    return new ServiceCodec(url.path, proto, json);
  }

  async export(service: ServiceInvoker, url: URL): Promise<Exporter> {
    const codec = this.codecOf(url);
    if (codec.proto !== undefined) {
      const missing = codec.proto.methods.filter((m) => !service.methods.includes(m));
      if (missing.length > 0) this.logger.warn(`service ${service.serviceKey}: the implementation has no ${missing.join(', ')} of its .proto; gRPC calls to them get UNIMPLEMENTED`);
    }
    const key = `${url.host}:${url.port}`;
    let server = this.servers.get(key);
    if (server === undefined) {
      const s = new GrpcServer(this);
      server = s;
      this.servers.set(key, s);
      s.listening = s.listen(url.host || undefined, url.port).then(
        (port) => {
          if (url.port === 0) this.servers.set(`${url.host}:${port}`, s);
          return port;
        },
        (err: unknown) => {
          if (this.servers.get(key) === s) this.servers.delete(key);
          throw err;
        },
      );
    }
    const port = await server.listening!;
    const previous = server.services.get(service.serviceKey);
    if (previous !== undefined && previous.invoker !== service) {
      this.logger.warn(`service ${service.serviceKey} was exported twice at ${server.address}; the newer export answers`);
    }
    const entry = { invoker: service, codec, iface: url.path };
    server.services.set(service.serviceKey, entry);
    const srv = server;
    let exported = true;
    return {
      url: url.port === 0 ? url.withAddress(url.host, port) : url,
      invoker: service,
      unexport: async () => {
        if (!exported) return;
        exported = false;
        if (srv.services.get(service.serviceKey) === entry) srv.services.delete(service.serviceKey);
        if (srv.services.size === 0) await this.closeServer(srv);
      },
    };
  }

  refer(url: URL): Invoker {
    const address = url.address;
    let handle = this.sessions.get(address);
    if (handle === undefined) {
      handle = new SessionHandle(url.host, url.port || this.defaultPort, address, this);
      this.sessions.set(address, handle);
    }
    handle.refs++;
    // The .proto is loaded once, at the first call's need (a refer must not throw).
    let codec: ServiceCodec | undefined;
    return new GrpcInvoker(url, this, handle, () => (codec ??= this.codecOf(url)), this.releaseSession, () => this.destroyed);
  }

  async drain(timeoutMs: number): Promise<void> {
    this.draining_ = true;
    // GOAWAY: clients open new streams elsewhere; streams in flight finish.
    for (const s of new Set(this.servers.values())) s.goaway();
    await this.calls.drain(timeoutMs);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const handle of this.sessions.values()) handle.destroy();
    this.sessions.clear();
    const servers = [...new Set(this.servers.values())];
    this.servers.clear();
    await Promise.all(servers.map((s) => s.close()));
    this.calls.release();
  }

  requestStarted(): void {
    this.calls.enter();
  }

  requestFinished(): void {
    this.calls.leave();
  }

  private baseDir(): string {
    try {
      return this.ctx.inject<{ baseDir?: string }>(CONFIG).baseDir ?? process.cwd();
    } catch {
      return process.cwd();
    }
  }

  private readonly releaseSession = (handle: SessionHandle): void => {
    if (--handle.refs > 0) return;
    if (this.sessions.get(handle.address) === handle) this.sessions.delete(handle.address);
    handle.close();
  };


  private async closeServer(s: GrpcServer): Promise<void> {
    for (const [key, value] of this.servers) if (value === s) this.servers.delete(key);
    await s.listening?.catch(() => undefined);
    await s.close();
  }
}

const extension = (name: string) => ({
  point: 'protocol',
  name,
  optionsSchema: optionsSchema as unknown as Record<string, unknown>,
  create: (ctx: ExtensionContext) => new GrpcProtocol(ctx),
});

export default definePlugin({
  name: '@plexus/protocol-grpc',
  kernel: '^0.1.0',
  extensions: [extension('grpc'), extension('tri')],
});

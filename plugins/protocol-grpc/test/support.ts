import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Plexus } from '@plexus/kernel';

export const GREETER_PROTO = path.join(__dirname, 'fixtures', 'greeter.proto');
/** feed.Feed: one method of each streaming kind, and a unary one. */
export const FEED_PROTO = path.join(__dirname, 'fixtures', 'feed.proto');

/** Apps made by a test, stopped after it (newest first). */
export const apps: Plexus[] = [];
/** grpc-js servers and clients made by a test, closed after it. */
const closers: Array<() => Promise<void> | void> = [];

export async function cleanup(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close();
  for (const app of apps.splice(0).reverse()) await app.stop();
}

export function app(name: string, extra: Record<string, unknown> = {}): Plexus {
  const a = Plexus.create({ logLevel: 'silent', application: { name }, registry: 'none', ...extra });
  apps.push(a);
  return a;
}

/** A provider serving `impl` as `iface` over grpc (plus `more` protocols) on free ports. */
export async function provider(
  iface: string,
  impl: object,
  service: Record<string, unknown> = {},
  grpcOptions: Record<string, unknown> = {},
  more: Array<Record<string, unknown>> = [],
): Promise<{ app: Plexus; port: number }> {
  const p = app(`${iface}-provider`, { protocols: [{ name: 'grpc', host: '127.0.0.1', port: 0, ...grpcOptions }, ...more] });
  p.provide({ interface: iface, ...service }, impl);
  await p.start();
  const url = p.exportedUrls().find((u) => u.protocol === 'grpc');
  if (url === undefined) throw new Error('no grpc URL exported');
  return { app: p, port: url.port };
}

/** proto-loader's usual options: the conventions the protobuf serializer follows. */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function greeterPackage(): any {
  return grpc.loadPackageDefinition(protoLoader.loadSync(GREETER_PROTO, LOADER_OPTIONS)).helloworld;
}

/** An unmodified grpc-js client of helloworld.Greeter at 127.0.0.1:port. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function greeterClient(port: number, options: grpc.ClientOptions = {}): any {
  const Greeter = greeterPackage().Greeter;
  const client = new Greeter(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  closers.push(() => client.close());
  return client;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function feedPackage(): any {
  return grpc.loadPackageDefinition(protoLoader.loadSync(FEED_PROTO, LOADER_OPTIONS)).feed;
}

/** An unmodified grpc-js client of feed.Feed at 127.0.0.1:port. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function feedClient(port: number, options: grpc.ClientOptions = {}): any {
  const client = new (feedPackage().Feed)(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  closers.push(() => client.close());
  return client;
}

/** A grpc-js server of helloworld.Greeter (or `service`) with `impl`, on a free port. */
export async function grpcServer(impl: grpc.UntypedServiceImplementation, service: grpc.ServiceDefinition = greeterPackage().Greeter.service): Promise<number> {
  const server = new grpc.Server();
  server.addService(service, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  closers.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  closers.push(() => server.forceShutdown());
  return port;
}

/** A unary grpc-js call as a promise: the reply, or the ServiceError; metadata both ways. */
export function unary(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  client: any,
  method: string,
  request: object,
  metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<{ reply?: any; error?: grpc.ServiceError; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = client[method](request, metadata, options, (error: grpc.ServiceError | null, reply: unknown) => {
      setImmediate(() => resolve(error ? { error, trailers: error.metadata } : { reply, trailers }));
    });
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * plexus-grpc peer, server process: a Plexus application exporting `bench.Echo` on the `grpc`
 * protocol (@plexus/protocol-grpc) through the full provider pipeline. It answers the grpc peer's
 * own client script unchanged (grpc-plexus-client.ts runs grpc-client.ts): the path
 * `/bench.Echo/Echo`, and MessagePack bodies under the bare `application/grpc` that grpc-js sends
 * with its serialize functions — the service names `serializer: msgpack`, which the grpc protocol
 * uses for services without a .proto.
 */
import { Plexus } from '@plexus/kernel';
import { hostServer } from '../peer-host';

hostServer(async () => {
  const app = Plexus.create({
    application: { name: 'bench-grpc-server' },
    protocols: [{ name: 'grpc', host: '127.0.0.1', port: 0 }],
  });
  // The rpc name of grpc-service.ts's path, so the grpc-js client's calls land here.
  app.provide(
    { interface: 'bench.Echo', serializer: 'msgpack' },
    {
      Echo(value: unknown) {
        return value;
      },
    },
  );
  await app.start();
  const url = app.exportedUrls().find((u) => u.protocol === 'grpc');
  if (url === undefined) {
    await app.stop();
    throw new Error('the grpc protocol exported no URL');
  }
  return { port: url.port, info: { protocol: 'grpc', serializer: 'msgpack' }, close: () => app.stop() };
});

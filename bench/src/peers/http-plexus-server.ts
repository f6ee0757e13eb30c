/**
 * Plexus http peer, server process: a Plexus application exporting `bench.Echo` on the `http`
 * protocol (JSON over HTTP/1.1, keep-alive) through the full provider pipeline.
 */
import { Plexus } from '@plexus/kernel';
import { hostServer } from '../peer-host';
import { ECHO_SERVICE, type BenchEcho } from './plexus-service';

hostServer(async () => {
  const app = Plexus.create({
    application: { name: 'bench-http-server' },
    protocols: [{ name: 'http', host: '127.0.0.1', port: 0 }],
  });
  const implementation: BenchEcho = {
    echo(value: unknown) {
      return value;
    },
  };
  app.provide(ECHO_SERVICE, implementation);
  await app.start();
  const url = app.exportedUrls().find((u) => u.protocol === 'http');
  if (url === undefined) {
    await app.stop();
    throw new Error('the http protocol exported no URL');
  }
  return { port: url.port, info: { serializer: 'json' }, close: () => app.stop() };
});

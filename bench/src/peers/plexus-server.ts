/**
 * Plexus peer, server process: a Plexus application exporting `bench.Echo` on the `plexus`
 * protocol (msgpack, TCP transport) through the full provider pipeline.
 */
import { ProxyTracerProvider, trace } from '@opentelemetry/api';
import { Plexus } from '@plexus/kernel';
import { hostServer } from '../peer-host';
import { ECHO_SERVICE, type BenchEcho } from './plexus-service';

hostServer(async (args) => {
  // plexus-governed: limits that are configured but never reached, so every governance filter runs.
  const governed = args.options?.governed === true;
  // plexus-metrics: the metrics filter on every call.
  const metrics = args.options?.metrics === true;
  // plexus-observed: metrics and tracing on every call, a tracer provider with no SDK behind it (no-op tracers).
  const observed = args.options?.observed === true;
  if (observed) trace.setGlobalTracerProvider(new ProxyTracerProvider());
  const app = Plexus.create({
    application: { name: 'bench-server' },
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0, serializer: 'msgpack' },
    ...(governed ? { provider: { tps: 1e9, executes: 1e6 } as never } : {}),
    ...(metrics ? { provider: { filter: ['metrics'] } as never } : {}),
    ...(observed ? { provider: { filter: ['metrics', 'tracing'] } as never } : {}),
  });
  const implementation: BenchEcho = {
    echo(value: unknown) {
      return value;
    },
  };
  app.provide(ECHO_SERVICE, implementation);
  await app.start();
  const url = app.exportedUrls().find((u) => u.protocol === 'plexus');
  if (url === undefined) {
    await app.stop();
    throw new Error('the plexus protocol exported no URL');
  }
  return { port: url.port, info: { serializer: 'msgpack' }, close: () => app.stop() };
});

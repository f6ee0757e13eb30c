/**
 * Plexus peer, client process: a reference to `bench.Echo` with a direct URL, so every call goes
 * through the proxy, cluster, filters, protocol invoker, msgpack codec and TCP transport.
 */
import { ProxyTracerProvider, trace } from '@opentelemetry/api';
import { Plexus } from '@plexus/kernel';
import { hostClient, promiseCaller, verify } from '../peer-host';
import { benchValue } from '../payload';
import { ECHO_SERVICE, type BenchEcho } from './plexus-service';

hostClient(async (args) => {
  const payload = benchValue(args.payload);
  // A consumer-only app needs no start(): the reference connects on first use (DESIGN §6).
  const app = Plexus.create({ application: { name: 'bench-client' } });
  const governed = args.options?.governed === true;
  const metrics = args.options?.metrics === true;
  const observed = args.options?.observed === true;
  // plexus-observed: a tracer provider with no SDK behind it, so every span is the API's no-op span.
  if (observed) trace.setGlobalTracerProvider(new ProxyTracerProvider());
  const echo = app.refer<BenchEcho>({
    ...ECHO_SERVICE,
    url: `plexus://127.0.0.1:${args.port}`,
    timeout: 5000,
    serializer: 'msgpack',
    // plexus-governed: limits and a breaker that are configured but never reached.
    ...(governed ? ({ tps: 1e9, actives: 1e6, circuitbreaker: { errorRate: 50 } } as never) : {}),
    // plexus-metrics: the metrics filter on every call.
    ...(metrics ? ({ filter: ['metrics'] } as never) : {}),
    // plexus-observed: metrics and tracing on every call.
    ...(observed ? ({ filter: ['metrics', 'tracing'] } as never) : {}),
  });
  const once = () => echo.echo(payload);
  await verify(once, payload);
  return {
    info: { serializer: 'msgpack' },
    createCaller: promiseCaller(once),
    close: () => app.stop(),
  };
});

/**
 * Plexus http peer, client process: a reference to `bench.Echo` with a direct `http://` URL, so
 * every call goes through the proxy, cluster, filters and the http protocol's invoker (one POST
 * over a keep-alive agent per call).
 */
import { Plexus } from '@plexus/kernel';
import { hostClient, promiseCaller, verify } from '../peer-host';
import { benchPayload } from '../payload';
import { ECHO_SERVICE, type BenchEcho } from './plexus-service';

hostClient(async (args) => {
  const payload = benchPayload();
  const app = Plexus.create({ application: { name: 'bench-http-client' } });
  const echo = app.refer<BenchEcho>({ ...ECHO_SERVICE, url: `http://127.0.0.1:${args.port}`, timeout: 5000 });
  const once = () => echo.echo(payload);
  await verify(once, payload);
  return { info: { serializer: 'json' }, createCaller: promiseCaller(once), close: () => app.stop() };
});

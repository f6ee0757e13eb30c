/**
 * Plexus peer, client process: a reference to `bench.Echo` with a direct URL, so every call goes
 * through the proxy, cluster, filters, protocol invoker, msgpack codec and TCP transport.
 */
import { hostClient, promiseCaller, verify } from '../peer-host';
import { benchPayload } from '../payload';
import { ECHO_SERVICE, loadPlexus, type BenchEcho } from './plexus-api';

hostClient(async (args) => {
  const Plexus = loadPlexus();
  const payload = benchPayload();
  const app = await Plexus.create({ application: { name: 'bench-client' } });
  const echo = app.refer<BenchEcho>({
    ...ECHO_SERVICE,
    url: `plexus://127.0.0.1:${args.port}`,
    timeout: 5000,
    serializer: 'msgpack',
  });
  // DESIGN §6: a consumer-only app needs no start(); the reference connects on first use.
  const once = () => echo.echo(payload);
  await verify(once, payload);
  return {
    info: { serializer: 'msgpack' },
    createCaller: promiseCaller(once),
    close: () => app.stop().then(() => undefined),
  };
});

/**
 * Plexus peer through discovery, client process: the `plexus` peer's client without a URL. It
 * finds the server in the `local` registry folder the server made (passed on by the runner), so
 * every call goes through the registry directory's provider list: the same pipeline as `plexus`
 * plus whatever discovery costs per call, which should be nothing.
 */
import { Plexus } from '@plexus/kernel';
import { hostClient, promiseCaller, verify } from '../peer-host';
import { benchValue } from '../payload';
import { ECHO_SERVICE, type BenchEcho } from './plexus-service';

hostClient(async (args) => {
  const registryDir = args.server?.registryDir;
  if (typeof registryDir !== 'string' || registryDir === '') throw new Error('plexus-registry-client: the server reported no registryDir');
  const payload = benchValue(args.payload);
  const app = Plexus.create({
    application: { name: 'bench-registry-client' },
    registry: { type: 'local', dir: registryDir, snapshot: false },
    // check: start() waits until the registry lists the server, so the first call has a provider.
    consumer: { check: true, checkTimeout: 10_000 },
    references: { echo: { ...ECHO_SERVICE, timeout: 5000, serializer: 'msgpack' } },
  });
  await app.start();
  const echo = app.reference<BenchEcho>('echo');
  const once = () => echo.echo(payload);
  await verify(once, payload);
  return {
    info: { serializer: 'msgpack', discovery: 'local' },
    createCaller: promiseCaller(once),
    close: () => app.stop(),
  };
});

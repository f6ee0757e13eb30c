/**
 * Plexus peer, server process: a Plexus application exporting `bench.Echo` on the `plexus`
 * protocol (msgpack, TCP transport) through the full provider pipeline.
 */
import net from 'node:net';
import { hostServer } from '../peer-host';
import { ECHO_SERVICE, loadPlexus, type PlexusApp } from './plexus-api';

hostServer(async () => {
  const Plexus = loadPlexus();
  // The app API takes a fixed port; borrow a free one from the OS and retry if it is taken meanwhile.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const app: PlexusApp = await Plexus.create({
      application: { name: 'bench-server' },
      protocol: { name: 'plexus', host: '127.0.0.1', port, serializer: 'msgpack' },
    });
    app.provide(ECHO_SERVICE, {
      echo(value: unknown) {
        return value;
      },
    });
    try {
      await app.start();
      return { port, info: { serializer: 'msgpack' }, close: () => app.stop().then(() => undefined) };
    } catch (err) {
      lastError = err;
      await app.stop().catch(() => undefined);
      if (!String((err as { code?: string; message?: string })?.message ?? err).includes('EADDRINUSE')) throw err;
    }
  }
  throw lastError;
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Plexus peer through discovery, server process: the `plexus` peer's server, registered in the
 * embedded `local` registry. The registry folder is made fresh for this process (so no other run
 * or test shares it) and removed when the server stops; the runner hands it to the client.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Plexus } from '@plexus/kernel';
import { hostServer } from '../peer-host';
import { ECHO_SERVICE, type BenchEcho } from './plexus-service';

hostServer(async () => {
  const registryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-bench-registry-'));
  const removeDir = () => fs.rmSync(registryDir, { recursive: true, force: true });
  const app = Plexus.create({
    application: { name: 'bench-registry-server' },
    // The snapshot is the consumer's; a bench provider has no use for one in the home folder.
    registry: { type: 'local', dir: registryDir, snapshot: false },
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0, serializer: 'msgpack' },
  });
  const implementation: BenchEcho = {
    echo(value: unknown) {
      return value;
    },
  };
  app.provide(ECHO_SERVICE, implementation);
  try {
    await app.start();
  } catch (err) {
    removeDir();
    throw err;
  }
  const url = app.exportedUrls().find((u) => u.protocol === 'plexus');
  if (url === undefined) {
    await app.stop();
    removeDir();
    throw new Error('the plexus protocol exported no URL');
  }
  return {
    port: url.port,
    info: { serializer: 'msgpack', registryDir },
    close: async () => {
      try {
        await app.stop();
      } finally {
        removeDir();
      }
    },
  };
});

/**
 * Streaming peer, plexus side: a Plexus application exporting `bench.Ticks` on the `plexus`
 * protocol (msgpack, TCP) whose `items(n)` is an async generator, through the full provider
 * pipeline; the stream is carried by the protocol's STREAM_DATA frames under credit flow control.
 */
import { Plexus } from '@plexus/kernel';
import { hostServer } from '../peer-host';
import { STREAM_SERVICE, streamItem } from './stream-item';

hostServer(async () => {
  const app = Plexus.create({
    application: { name: 'bench-stream-server', handleSignals: false },
    logLevel: 'warn',
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0, serializer: 'msgpack' },
  });
  app.provide(STREAM_SERVICE, {
    async *items(n: number) {
      for (let i = 0; i < n; i++) yield streamItem(i);
    },
  });
  await app.start();
  const url = app.exportedUrls().find((u) => u.protocol === 'plexus');
  if (url === undefined) {
    await app.stop();
    throw new Error('the plexus protocol exported no URL');
  }
  return { port: url.port, info: { serializer: 'msgpack' }, close: () => app.stop() };
});

/**
 * Streaming peer, raw side: the raw peer's framing (`[u32 length][u32 id][payload]`) with msgpack
 * items, the floor for streaming on this machine. A request frame carries the item count; the
 * server answers with that many item frames on the request's id, then an empty frame (the end).
 * Items are staged and written with the raw peer's coalescing writer, one socket write per 32
 * frames as the plexus TCP channel does (`flushFrames`), and the loop waits for 'drain' when the
 * socket is full (TCP's own flow control; there is no per-stream window).
 */
import net from 'node:net';
import { hostServer } from '../peer-host';
import { standardPackr } from '../payload';
import { CoalescingFrameWriter, FrameParser } from './raw-frames';
import { streamItem } from './stream-item';

/** Frames per socket write, as the TCP transport's `flushFrames`. */
const FLUSH_FRAMES = 32;
const EMPTY = Buffer.alloc(0);

hostServer(async () => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const writer = new CoalescingFrameWriter(socket);
    const parser = new FrameParser((id, buf, start, end) => {
      const n = standardPackr.unpack(buf.subarray(start, end)) as number;
      void pushItems(socket, writer, id, n);
    });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    info: { flushFrames: FLUSH_FRAMES },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
});

async function pushItems(socket: net.Socket, writer: CoalescingFrameWriter, id: number, n: number): Promise<void> {
  let staged = 0;
  for (let i = 0; i < n; i++) {
    const bytes = standardPackr.pack(streamItem(i));
    writer.write(id, bytes, 0, bytes.length);
    if (++staged === FLUSH_FRAMES) {
      staged = 0;
      writer.flush();
      if (socket.writableNeedDrain) await new Promise((r) => socket.once('drain', r));
      if (socket.destroyed) return;
    }
  }
  writer.write(id, EMPTY, 0, 0);
  writer.flush();
}

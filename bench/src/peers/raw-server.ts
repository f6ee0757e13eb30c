/**
 * Raw TCP peer, server process: echoes each length-prefixed frame back with its request id.
 * No codec and no dispatch: this is the floor any RPC stack on this machine builds on.
 */
import net from 'node:net';
import { hostServer } from '../peer-host';
import { createFrameWriter, FrameParser } from './raw-frames';
import { flushScheduler, rawOptions } from './raw-options';
import { standardPackr } from '../payload';

hostServer(async (args) => {
  const options = rawOptions(args.options);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const writer = createFrameWriter(socket, options.mode);
    const flushLater = options.serverFlush === 'read' ? undefined : flushScheduler(options.serverFlush, () => writer.flush());
    const parser =
      options.codec === 'msgpack'
        ? new FrameParser((id, buf, start, end) => {
            const reply = standardPackr.pack(standardPackr.unpack(buf.subarray(start, end)));
            writer.write(id, reply, 0, reply.length);
          })
        : new FrameParser((id, buf, start, end) => writer.write(id, buf, start, end));
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      if (flushLater === undefined) writer.flush();
      else flushLater();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    info: { ...options },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
});

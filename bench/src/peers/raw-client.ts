/**
 * Raw TCP peer, client process: pipelines outstanding requests on one connection, matching
 * responses by request id. Request ids are slots reused from a free list, so a call allocates
 * nothing but its bytes in the staged write.
 */
import net from 'node:net';
import type { Done } from '../load-loop';
import { hostClient } from '../peer-host';
import { benchValue, isEcho, standardPackr } from '../payload';
import { createFrameWriter, FRAME_HEADER, FrameParser } from './raw-frames';
import { flushScheduler, rawOptions } from './raw-options';

hostClient(async (args) => {
  const options = rawOptions(args.options);
  const value = benchValue(args.payload);
  const payload = standardPackr.pack(value);
  const codec = options.codec === 'msgpack';
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: args.port ?? 0 }, () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);

  const pending: (Done | undefined)[] = [];
  const free: number[] = [];
  let closedError: Error | undefined;
  let outstanding = 0;
  const writer = createFrameWriter(socket, options.mode);
  const flushLater = flushScheduler(options.clientFlush, () => writer.flush());
  const parser = new FrameParser((id, buf, start, end) => {
    const done = pending[id];
    if (done === undefined) return;
    pending[id] = undefined;
    free.push(id);
    outstanding--;
    if (codec) {
      done(isEcho(args.payload, standardPackr.unpack(buf.subarray(start, end))) ? undefined : new Error('echo mismatch'));
    } else {
      done(end - start === payload.length ? undefined : new Error(`short echo: ${end - start} bytes`));
    }
  });
  socket.on('data', (chunk: Buffer) => parser.push(chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closedError = new Error('raw connection closed');
    for (let id = 0; id < pending.length; id++) {
      const done = pending[id];
      pending[id] = undefined;
      if (done !== undefined) done(closedError);
    }
  });

  const send = (done: Done) => {
    if (closedError !== undefined) {
      setImmediate(done, closedError);
      return;
    }
    const id = free.length > 0 ? (free.pop() as number) : pending.length;
    pending[id] = done;
    outstanding++;
    // msgpackr returns a view of its scratch buffer; the writer copies it before the next pack.
    const bytes = codec ? standardPackr.pack(value) : payload;
    writer.write(id, bytes, 0, bytes.length);
    if (options.mode !== 'coalesce') return;
    // Alone on an idle link (concurrency 1) nothing can join the batch: write at once.
    if (outstanding === 1 && writer.staged === bytes.length + FRAME_HEADER) writer.flush();
    else flushLater();
  };

  // One round trip before the runner measures anything.
  await new Promise<void>((resolve, reject) => send((err) => (err === undefined ? resolve() : reject(err))));

  return {
    info: { ...options, payloadBytes: payload.length },
    createCaller: (done) => () => send(done),
    close: () => {
      socket.destroy();
    },
  };
});

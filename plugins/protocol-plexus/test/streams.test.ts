import * as net from 'node:net';
import { RpcCode, RpcError, URL, type Compressor, type Exporter, type Invoker } from '@plexus/kernel/spi';
import type { MemoryLogger } from '@plexus/kernel/testing';
import { TcpTransport } from '@plexus/transport-tcp';
import {
  encodeEvent,
  encodeRequest,
  encodeRoute,
  encodeStreamData,
  encodeStreamStart,
  requestHeaderSize,
  streamRequestEntries,
} from '../src/frame-codec';
import { FrameDecoder, type FrameSink } from '../src/frame-decoder';
import type { PlexusProtocol } from '../src/plexus-protocol';
import { EventKind, Flag, Status } from '../src/wire';
import { call, countingCompressor, makeProtocol, TestService, until } from './support/harness';
import { SpyTransport } from './support/spy-transport';

const KEY = 'demo.Streams';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the provider's methods did, for the assertions. */
const seen = { finallies: 0, produced: 0, read: 0, worstAhead: 0, sourceFinallies: 0 };

interface World {
  transport: SpyTransport;
  provider: PlexusProtocol;
  providerLog: MemoryLogger;
  consumer: PlexusProtocol;
  exporter: Exporter;
  invoker: Invoker;
  port: number;
}

const worlds: World[] = [];

async function world(init: { provider?: Record<string, unknown>; consumer?: Record<string, unknown>; compressor?: Compressor } = {}): Promise<World> {
  const transport = new SpyTransport(new TcpTransport());
  const compressors = init.compressor ? [init.compressor] : undefined;
  const p = makeProtocol({ transport, options: init.provider, compressors });
  const c = makeProtocol({ transport, options: init.consumer, compressors });
  const service = new TestService(KEY, {
    async *endless() {
      try {
        for (let i = 0; ; i++) {
          seen.produced++;
          yield i;
          await sleep(2);
        }
      } finally {
        seen.finallies++;
      }
    },
    async *big(size: number) {
      const item = 'x'.repeat(size);
      try {
        for (;;) {
          seen.produced++;
          yield item;
        }
      } finally {
        seen.finallies++;
      }
    },
    async sum(items: AsyncIterable<number>) {
      let total = 0;
      for await (const n of items) total += n;
      return total;
    },
    /** Reads slowly and records how far ahead of it the consumer's source ran. */
    async slowCount(items: AsyncIterable<string>) {
      let n = 0;
      for await (const _ of items) {
        n++;
        seen.read = n;
        seen.worstAhead = Math.max(seen.worstAhead, seen.produced - n);
        await sleep(1);
      }
      return n;
    },
    /** Bidirectional, slow reader: the steady state after `warm` items is what the window allows. */
    async *slowEcho(items: AsyncIterable<string>, warm: number) {
      let n = 0;
      for await (const item of items) {
        n++;
        if (n > warm) seen.worstAhead = Math.max(seen.worstAhead, seen.produced - n);
        await sleep(1);
        yield item.length;
      }
    },
    async first(items: AsyncIterable<unknown>) {
      for await (const item of items) return item;
      return null;
    },
    async *doubled(items: AsyncIterable<string>) {
      for await (const s of items) yield s + s;
    },
  });
  const exporter = await p.protocol.export(service, URL.parse(`plexus://127.0.0.1:0/${KEY}`));
  const invoker = c.protocol.refer(exporter.url);
  const w: World = { transport, provider: p.protocol, providerLog: p.logger, consumer: c.protocol, exporter, invoker, port: exporter.url.port };
  worlds.push(w);
  return w;
}

beforeEach(() => {
  Object.assign(seen, { finallies: 0, produced: 0, read: 0, worstAhead: 0, sourceFinallies: 0 });
});

afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await w.consumer.destroy();
    await w.provider.destroy();
  }
});

async function open<T>(w: World, method: string, args: unknown[], settings: Record<string, unknown> = {}): Promise<AsyncIterableIterator<T>> {
  const result = await w.invoker.invoke(call(KEY, method, args, settings));
  return result.value as AsyncIterableIterator<T>;
}

async function* strings(n: number, size: number) {
  const item = 'y'.repeat(size);
  try {
    for (let i = 0; i < n; i++) {
      seen.produced++;
      yield item;
    }
  } finally {
    seen.sourceFinallies++;
  }
}

async function* numbers(n: number) {
  try {
    for (let i = 1; i <= n; i++) yield i;
  } finally {
    seen.sourceFinallies++;
  }
}

async function failure(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    if (RpcError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

/** Frames a raw peer received, by their fixed part. */
function framesOf(bytes: Buffer): Array<{ flags: number; event: number; status: number; id: number }> {
  const out: Array<{ flags: number; event: number; status: number; id: number }> = [];
  const sink: FrameSink = {
    onFrame: (d) => out.push({ flags: d.flags, event: d.event, status: d.status, id: d.id }),
    onOversize: () => undefined,
    onGarbage: () => undefined,
  };
  new FrameDecoder(1 << 24, sink).push(bytes);
  return out;
}

function streamRequest(id: number, method: string, args: unknown[], streamArg: number): Buffer {
  const route = encodeRoute(KEY, method);
  const extra = streamRequestEntries(streamArg, 0);
  const body = Buffer.from(JSON.stringify(args));
  const hl = requestHeaderSize(route, 0, 0, 0, undefined, extra);
  return encodeRequest(id, false, route, 1, 0, 0, 0, undefined, body, hl, extra);
}

describe('plexus protocol streams over TCP', () => {
  it('a dropped connection fails the open stream with NETWORK and runs the provider generator finally', async () => {
    const w = await world();
    const stream = await open<number>(w, 'endless', []);
    expect((await stream.next()).value).toBe(0);
    expect((await stream.next()).value).toBe(1);
    for (const channel of w.transport.serverChannels()) channel.close(new Error('dropped by the test'));
    let err: unknown;
    try {
      for (;;) if ((await stream.next()).done) break;
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: RpcCode.NETWORK, reason: 'PLEXUS_ERR_PROTOCOL_DISCONNECTED' });
    await until(() => seen.finallies === 1);
    const produced = seen.produced;
    await sleep(30);
    expect(seen.produced).toBe(produced);
  });

  it('a slow provider reading a client stream keeps the consumer source within the window', async () => {
    const w = await world();
    // 4 KiB items against a 256 KiB window: about 64 in flight; without flow control all 400 at once.
    await expect(w.invoker.invoke(call(KEY, 'slowCount', [strings(400, 4096)], { timeout: 20000 }))).resolves.toEqual({ value: 400 });
    expect(seen.worstAhead).toBeGreaterThan(0);
    expect(seen.worstAhead).toBeLessThan(90);
  });

  it("the consumer's streamWindow bounds what the provider runs ahead of the reader", async () => {
    const w = await world({ consumer: { streamWindow: 16384 } });
    const stream = await open<string>(w, 'big', [4096]);
    let read = 0;
    let worst = 0;
    for await (const item of stream) {
      expect(item.length).toBe(4096);
      read++;
      worst = Math.max(worst, seen.produced - read);
      await sleep(1);
      if (read === 100) break;
    }
    // 16 KiB holds 3 such frames; the default window would let ~64 run ahead.
    expect(worst).toBeLessThan(10);
    await until(() => seen.finallies === 1);
  });

  it("the provider's streamWindow, announced on the stream start, bounds a bidirectional client stream", async () => {
    const w = await world({ provider: { streamWindow: 16384 } });
    const stream = await open<number>(w, 'slowEcho', [strings(150, 4096), 80]);
    let n = 0;
    for await (const length of stream) {
      expect(length).toBe(4096);
      n++;
    }
    expect(n).toBe(150);
    expect(seen.worstAhead).toBeLessThan(10);
  });

  it('compresses items above the threshold both ways', async () => {
    const deflate = countingCompressor();
    const w = await world({ provider: { compressor: 'deflate', compressThreshold: 100 }, compressor: deflate });
    const stream = await open<string>(w, 'doubled', [strings(5, 1000)], { compressor: 'deflate', compressThreshold: 100 });
    const out: string[] = [];
    for await (const s of stream) out.push(s);
    expect(out).toEqual(Array.from({ length: 5 }, () => 'y'.repeat(2000)));
    expect(deflate.counts).toEqual({ compress: 10, decompress: 10 });
  });

  it('a consumer source that throws fails the provider read with its coded error', async () => {
    async function* broken() {
      yield 1;
      throw new Error('source broke');
    }
    const w = await world();
    const err = await failure(w.invoker.invoke(call(KEY, 'sum', [broken()])));
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
    expect(err.message).toContain('source broke');
  });

  it('a provider that stops reading early stops the consumer source (its finally runs)', async () => {
    const w = await world();
    await expect(w.invoker.invoke(call(KEY, 'first', [numbers(1_000_000)]))).resolves.toEqual({ value: 1 });
    await until(() => seen.sourceFinallies === 1);
  });

  it('a one-way call with a stream argument, and a call with two, are refused coded before sending', async () => {
    const w = await world();
    await expect(w.invoker.invoke(call(KEY, 'sum', [numbers(3)], { oneWay: true }))).rejects.toMatchObject({
      code: RpcCode.BAD_REQUEST,
      reason: 'PLEXUS_ERR_PROTOCOL_STREAM_ONE_WAY',
    });
    await expect(w.invoker.invoke(call(KEY, 'sum', [numbers(3), numbers(3)]))).rejects.toMatchObject({
      code: RpcCode.BAD_REQUEST,
      reason: 'PLEXUS_ERR_STREAM_ARGS',
    });
  });

  it('maxStreams refuses one more stream with LIMIT_EXCEEDED; closing one makes room', async () => {
    const w = await world({ provider: { maxStreams: 2 } });
    const a = await open<number>(w, 'endless', []);
    const b = await open<number>(w, 'endless', []);
    await a.next();
    await b.next();
    await expect(w.invoker.invoke(call(KEY, 'endless', []))).rejects.toMatchObject({
      code: RpcCode.LIMIT_EXCEEDED,
      reason: 'PLEXUS_ERR_PROTOCOL_TOO_MANY_STREAMS',
    });
    await expect(w.invoker.invoke(call(KEY, 'sum', [numbers(2)]))).rejects.toMatchObject({ reason: 'PLEXUS_ERR_PROTOCOL_TOO_MANY_STREAMS' });
    await a.return!();
    await until(() => seen.finallies === 1);
    const c = await open<number>(w, 'endless', []);
    expect((await c.next()).done).toBe(false);
    await b.return!();
    await c.return!();
  });

  it('a consumer that ignores credit gets its stream failed, the call cancelled and a coded answer', async () => {
    const w = await world();
    const raw = await connectRaw(w.port);
    raw.socket.write(streamRequest(1, 'slowCount', [null], 0));
    // 3 MiB of items without waiting for credit, against a 256 KiB window.
    const item = Buffer.from(JSON.stringify('z'.repeat(1024)));
    for (let i = 0; i < 3000; i++) raw.socket.write(encodeStreamData(1, false, 0, item));
    await until(() => framesOf(raw.bytes()).some((f) => f.id === 1 && (f.flags & Flag.EVENT) === 0));
    const frames = framesOf(raw.bytes());
    const answer = frames.find((f) => f.id === 1 && (f.flags & Flag.EVENT) === 0)!;
    expect(answer.status).toBe(Status.LIMIT_EXCEEDED);
    // The provider told the writer to stop (CANCEL with the RESPONSE bit).
    expect(frames.some((f) => f.id === 1 && f.event === EventKind.CANCEL && (f.flags & Flag.RESPONSE) !== 0)).toBe(true);
    expect(w.providerLog.entries.some((e) => e.message.includes('ignored flow control'))).toBe(true);
    // The method read slowly: far fewer items than were sent reached it.
    expect(seen.read).toBeLessThan(600);
    // Data for that finished stream, and for a stream that never existed, is dropped; the connection still serves.
    raw.socket.write(encodeStreamData(1, false, 0, item));
    raw.socket.write(encodeStreamData(999, false, 0, item));
    raw.socket.write(streamRequest(2, 'sum', [null], 0));
    raw.socket.write(encodeStreamData(2, false, 0, Buffer.from('5')));
    raw.socket.write(encodeEvent(EventKind.STREAM_END, 2, false, false));
    await until(() => framesOf(raw.bytes()).some((f) => f.id === 2 && (f.flags & Flag.EVENT) === 0));
    expect(framesOf(raw.bytes()).find((f) => f.id === 2 && (f.flags & Flag.EVENT) === 0)!.status).toBe(Status.OK);
    raw.socket.destroy();
  });

  it('a provider that ignores credit gets the stream failed with a coded error and a CANCEL', async () => {
    const received: Array<{ flags: number; event: number; id: number }> = [];
    const server = net.createServer((socket) => {
      const sink: FrameSink = {
        onFrame: (d) => {
          received.push({ flags: d.flags, event: d.event, id: d.id });
          if ((d.flags & Flag.EVENT) === 0) {
            socket.write(encodeStreamStart(d.id, 1, undefined, 0));
            const item = Buffer.from(JSON.stringify('q'.repeat(1024)));
            const frames: Buffer[] = [];
            for (let i = 0; i < 3000; i++) frames.push(encodeStreamData(d.id, true, 0, item));
            socket.write(Buffer.concat(frames));
          }
        },
        onOversize: () => undefined,
        onGarbage: () => socket.destroy(),
      };
      const decoder = new FrameDecoder(1 << 24, sink);
      socket.on('data', (chunk) => decoder.push(chunk));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const transport = new TcpTransport();
      const c = makeProtocol({ transport });
      const invoker = c.protocol.refer(URL.parse(`plexus://127.0.0.1:${port}/${KEY}`));
      try {
        const result = await invoker.invoke(call(KEY, 'flood', []));
        const stream = result.value as AsyncIterableIterator<string> & { buffered: number };
        await until(() => received.some((f) => f.event === EventKind.CANCEL));
        await expect(stream.next()).rejects.toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: 'PLEXUS_ERR_PROTOCOL_STREAM_OVERFLOW' });
        expect(stream.buffered).toBe(0);
        expect(c.logger.entries.some((e) => e.message.includes('ignored flow control'))).toBe(true);
      } finally {
        await c.protocol.destroy();
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

async function connectRaw(port: number): Promise<{ socket: net.Socket; bytes(): Buffer }> {
  const chunks: Buffer[] = [];
  const socket = net.connect(port, '127.0.0.1');
  socket.on('data', (c) => chunks.push(c));
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, bytes: () => Buffer.concat(chunks) };
}

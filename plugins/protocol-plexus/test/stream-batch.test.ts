import * as net from 'node:net';
import { RpcCode, RpcError, URL, type Exporter, type Invoker } from '@plexus/kernel/spi';
import { TcpTransport } from '@plexus/transport-tcp';
import {
  encodeEvent,
  encodeRequest,
  encodeRoute,
  encodeStreamCredit,
  encodeStreamData,
  encodeStreamStart,
  requestHeaderSize,
  streamRequestEntries,
} from '../src/frame-codec';
import { FrameDecoder, type FrameSink } from '../src/frame-decoder';
import type { PlexusProtocol } from '../src/plexus-protocol';
import { EventKind, FIXED_LENGTH, Flag, Status } from '../src/wire';
import { fakeInvocation } from '@plexus/kernel/testing';
import { ProviderStream } from '../src/provider-stream';
import { call, deflateCompressor, jsonSerializer, makeProtocol, TestService, until } from './support/harness';

const KEY = 'demo.Batches';

interface Frame {
  flags: number;
  event: number;
  status: number;
  id: number;
  body: Buffer;
}

/** Every frame in `bytes`, copied. */
function framesOf(bytes: Buffer): Frame[] {
  const out: Frame[] = [];
  const sink: FrameSink = {
    onFrame: (d, buf, off) => {
      const start = off + FIXED_LENGTH + d.headerLength;
      out.push({ flags: d.flags, event: d.event, status: d.status, id: d.id, body: Buffer.from(buf.subarray(start, start + d.bodyLength)) });
    },
    onOversize: () => undefined,
    onGarbage: () => undefined,
  };
  new FrameDecoder(1 << 24, sink).push(bytes);
  return out;
}

/** The items of the STREAM_DATA frames among `frames` (JSON bodies), batches unpacked. */
function itemsOf(frames: Frame[]): unknown[] {
  const out: unknown[] = [];
  for (const f of frames) {
    if (f.event !== EventKind.STREAM_DATA || (f.flags & Flag.EVENT) === 0) continue;
    const value = JSON.parse(f.body.toString('utf8'));
    if (f.flags & Flag.BATCH) out.push(...(value as unknown[]));
    else out.push(value);
  }
  return out;
}

const dataFrames = (frames: Frame[]) => frames.filter((f) => f.flags & Flag.EVENT && f.event === EventKind.STREAM_DATA);

/** A request frame with JSON args; `batch: false` clears the BATCH flag, as a consumer from before batches sends it. */
function request(id: number, method: string, args: unknown[], opts: { streamArg?: number; batch?: boolean } = {}): Buffer {
  const route = encodeRoute(KEY, method);
  const extra = streamRequestEntries(opts.streamArg ?? -1, 0);
  const body = Buffer.from(JSON.stringify(args));
  const frame = encodeRequest(id, false, route, 1, 0, 0, 0, undefined, body, requestHeaderSize(route, 0, 0, 0, undefined, extra), extra);
  if (opts.batch === false) frame[3] &= ~Flag.BATCH;
  return frame;
}

async function connectRaw(port: number): Promise<{ socket: net.Socket; bytes(): Buffer }> {
  const chunks: Buffer[] = [];
  const socket = net.connect(port, '127.0.0.1');
  socket.on('data', (c) => chunks.push(c));
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, bytes: () => Buffer.concat(chunks) };
}

const ended = (id: number) => (f: Frame) => f.id === id && f.flags & Flag.EVENT && (f.event === EventKind.STREAM_END || f.event === EventKind.STREAM_ERROR);
const answered = (id: number) => (f: Frame) => f.id === id && (f.flags & Flag.EVENT) === 0;

interface World {
  provider: PlexusProtocol;
  consumer: PlexusProtocol;
  exporter: Exporter;
  invoker: Invoker;
  port: number;
}

const worlds: World[] = [];
const sockets: net.Socket[] = [];
const servers: net.Server[] = [];

async function world(providerOptions: Record<string, unknown> = {}): Promise<World> {
  const transport = new TcpTransport();
  const p = makeProtocol({ transport, options: providerOptions });
  const c = makeProtocol({ transport });
  const service = new TestService(KEY, {
    async *count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    },
    async *texts(n: number, size: number) {
      for (let i = 0; i < n; i++) yield `${i}:`.padEnd(size, 'z');
    },
    async *thenBigint(n: number) {
      for (let i = 0; i < n; i++) yield i;
      yield BigInt(1); // JSON cannot encode it
    },
    async sum(items: AsyncIterable<number>) {
      let total = 0;
      for await (const n of items) total += n;
      return total;
    },
  });
  const exporter = await p.protocol.export(service, URL.parse(`plexus://127.0.0.1:0/${KEY}`));
  const w: World = { provider: p.protocol, consumer: c.protocol, exporter, invoker: c.protocol.refer(exporter.url), port: exporter.url.port };
  worlds.push(w);
  return w;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const w of worlds.splice(0)) {
    await w.consumer.destroy();
    await w.provider.destroy();
  }
});

async function read<T>(w: World, method: string, args: unknown[]): Promise<T[]> {
  const result = await w.invoker.invoke(call(KEY, method, args));
  const out: T[] = [];
  for await (const item of result.value as AsyncIterable<T>) out.push(item);
  return out;
}

/** A provider played by the test: answers every request with a stream start, then what `serve` writes. */
async function rawProvider(serve: (socket: net.Socket, id: number, frames: Frame[]) => void): Promise<{ port: number; received: Frame[] }> {
  const received: Frame[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    const sink: FrameSink = {
      onFrame: (d, buf, off) => {
        const start = off + FIXED_LENGTH + d.headerLength;
        received.push({ flags: d.flags, event: d.event, status: d.status, id: d.id, body: Buffer.from(buf.subarray(start, start + d.bodyLength)) });
        if ((d.flags & Flag.EVENT) === 0) serve(socket, d.id, received);
      },
      onOversize: () => undefined,
      onGarbage: () => socket.destroy(),
    };
    const decoder = new FrameDecoder(1 << 24, sink);
    socket.on('data', (chunk) => decoder.push(chunk));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, received };
}

async function consumerOf(port: number): Promise<Invoker> {
  const c = makeProtocol({ transport: new TcpTransport() });
  worlds.push({ provider: c.protocol, consumer: c.protocol, exporter: undefined as unknown as Exporter, invoker: undefined as unknown as Invoker, port });
  return c.protocol.refer(URL.parse(`plexus://127.0.0.1:${port}/${KEY}`));
}

describe('a provider stream writing a source whose items are all ready', () => {
  it('lets the transport flush after the first frame and every quarter window, instead of after the whole window', async () => {
    // A carrier that flushes like the TCP transport: once per tick, which runs when the current run
    // of promise jobs ends. `bursts` are the bytes each flush would hand to the socket.
    const bursts: number[] = [];
    let pending = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const carrier = {
      writeFrame(frame: Buffer): boolean {
        if (pending === 0) {
          process.nextTick(() => {
            bursts.push(pending);
            pending = 0;
          });
        }
        pending += frame.length;
        return true;
      },
      waitDrain: () => undefined,
      streamDone: () => done(),
      sendStack: false,
      payload: 8 << 20,
      compressThreshold: 1 << 30,
    };
    const st = new ProviderStream(1, carrier, jsonSerializer, undefined);
    st.invocation = fakeInvocation();
    async function* ticks() {
      for (let i = 0; i < 20_000; i++) yield { seq: i, symbol: 'ACME' };
    }
    st.startAnswer(ticks(), 1 << 20, true);
    await finished;
    await new Promise((r) => setImmediate(r));
    // Without the pause, the first flush came after the whole window (1 MiB here), the first item with it.
    expect(bursts[0]).toBeLessThan(100);
    expect(Math.max(...bursts)).toBeLessThan(64 * 1024 + 20 * 1024);
    expect(bursts.reduce((a, b) => a + b, 0)).toBeGreaterThan(400 * 1024);
  });
});

describe('batched stream items (flag BATCH)', () => {
  it('a provider batches the items ready in the same turn for a consumer that reads batches, and sends plain frames to one that does not', async () => {
    const w = await world();
    const raw = await connectRaw(w.port);
    sockets.push(raw.socket);
    raw.socket.write(request(1, 'count', [500]));
    raw.socket.write(request(2, 'count', [500], { batch: false }));
    await until(() => framesOf(raw.bytes()).filter((f) => ended(1)(f) || ended(2)(f)).length === 2);
    const frames = framesOf(raw.bytes());
    const expected = Array.from({ length: 500 }, (_, i) => i);

    const batched = frames.filter((f) => f.id === 1);
    expect(itemsOf(batched)).toEqual(expected);
    expect(dataFrames(batched).some((f) => f.flags & Flag.BATCH)).toBe(true);
    expect(dataFrames(batched).length).toBeLessThan(50);
    expect(batched[batched.length - 1].event).toBe(EventKind.STREAM_END);

    const plain = frames.filter((f) => f.id === 2);
    expect(itemsOf(plain)).toEqual(expected);
    expect(dataFrames(plain)).toHaveLength(500);
    expect(dataFrames(plain).every((f) => (f.flags & Flag.BATCH) === 0)).toBe(true);
  });

  it('the consumer hands batched items over one by one, in order, however they were cut', async () => {
    const w = await world();
    await expect(read<number>(w, 'count', [30_000])).resolves.toEqual(Array.from({ length: 30_000 }, (_, i) => i));
  });

  it('items that together exceed the payload limit go one per frame', async () => {
    // 300-byte items: a batch of ~16 KiB would be over a 4 KiB payload.
    const w = await world({ payload: 4096 });
    const raw = await connectRaw(w.port);
    sockets.push(raw.socket);
    raw.socket.write(request(1, 'texts', [120, 300]));
    await until(() => framesOf(raw.bytes()).some(ended(1)));
    const frames = framesOf(raw.bytes());
    expect(dataFrames(frames).every((f) => f.body.length <= 4096)).toBe(true);
    expect(itemsOf(frames)).toEqual(Array.from({ length: 120 }, (_, i) => `${i}:`.padEnd(300, 'z')));
    await expect(read<string>(w, 'texts', [120, 300])).resolves.toHaveLength(120);
  });

  it('an item that cannot be encoded fails the stream coded, after the items before it', async () => {
    const w = await world();
    const result = await w.invoker.invoke(call(KEY, 'thenBigint', [200]));
    const seen: number[] = [];
    let caught: unknown;
    try {
      for await (const n of result.value as AsyncIterable<number>) seen.push(n);
    } catch (err) {
      caught = err;
    }
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(caught).toBeInstanceOf(RpcError);
    expect(caught).toMatchObject({ code: RpcCode.SERIALIZATION, reason: 'PLEXUS_ERR_PROTOCOL_SERIALIZE' });
  });

  it('the consumer reads a batch frame from a provider', async () => {
    const { port } = await rawProvider((socket, id) => {
      socket.write(encodeStreamStart(id, 1, undefined, 0));
      socket.write(encodeStreamData(id, true, 0, Buffer.from('[1,2,3]'), true));
      socket.write(encodeStreamData(id, true, 0, Buffer.from('4')));
      socket.write(encodeEvent(EventKind.STREAM_END, id, true, false));
    });
    const invoker = await consumerOf(port);
    const result = await invoker.invoke(call(KEY, 'count', [4]));
    const out: number[] = [];
    for await (const n of result.value as AsyncIterable<number>) out.push(n);
    expect(out).toEqual([1, 2, 3, 4]);
  });

  it.each([
    ['not an array', Buffer.from('{"a":1}'), 0],
    ['an empty array', Buffer.from('[]'), 0],
    ['compressed', deflateCompressor.compress(Buffer.from('[1,2]')), 1],
  ])('a batch frame whose body is %s fails the stream with BAD_RESPONSE and a CANCEL', async (_what, body, compressorId) => {
    const { port, received } = await rawProvider((socket, id) => {
      socket.write(encodeStreamStart(id, 1, undefined, 0));
      socket.write(encodeStreamData(id, true, 0, Buffer.from('0')));
      socket.write(encodeStreamData(id, true, compressorId, body, true));
    });
    const invoker = await consumerOf(port);
    const result = await invoker.invoke(call(KEY, 'count', [4], { compressor: 'deflate' }));
    const err = await (async () => {
      try {
        for await (const _ of result.value as AsyncIterable<number>) void _;
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toMatchObject({ code: RpcCode.BAD_RESPONSE, reason: 'PLEXUS_ERR_PROTOCOL_DESERIALIZE' });
    await until(() => received.some((f) => f.event === EventKind.CANCEL && f.flags & Flag.EVENT));
  });

  it('a consumer batches its client stream once the provider said it reads batches, never before', async () => {
    const n = 20_000; // ~0.5 MiB of frames one by one: more than a window, so credit is needed
    const served: Array<{ port: number; received: Frame[] }> = [];
    for (const batch of [true, false]) {
      served.push(
        await rawProvider((socket, id) => {
          socket.write(encodeStreamStart(id, 1, undefined, 0, batch));
          socket.write(encodeStreamCredit(id, true, 64 << 20, batch));
        }),
      );
    }
    for (const [i, { port, received }] of served.entries()) {
      const invoker = await consumerOf(port);
      async function* numbers() {
        for (let k = 0; k < n; k++) yield k;
      }
      void invoker.invoke(call(KEY, 'sum', [numbers()], { timeout: 10_000 })).catch(() => undefined);
      await until(() => received.some((f) => f.flags & Flag.EVENT && f.event === EventKind.STREAM_END));
      const fromConsumer = received.filter((f) => f.id !== 0);
      expect(itemsOf(fromConsumer)).toEqual(Array.from({ length: n }, (_, k) => k));
      const batches = dataFrames(fromConsumer).filter((f) => f.flags & Flag.BATCH).length;
      if (i === 0) expect(batches).toBeGreaterThan(0);
      else expect(batches).toBe(0);
    }
  });

  it('the provider reads a batched client stream, and refuses a batch that is not an array with a coded answer', async () => {
    const w = await world();
    const raw = await connectRaw(w.port);
    sockets.push(raw.socket);
    raw.socket.write(request(1, 'sum', [null], { streamArg: 0 }));
    raw.socket.write(encodeStreamData(1, false, 0, Buffer.from('[1,2,3]'), true));
    raw.socket.write(encodeStreamData(1, false, 0, Buffer.from('4')));
    raw.socket.write(encodeEvent(EventKind.STREAM_END, 1, false, false));
    raw.socket.write(request(2, 'sum', [null], { streamArg: 0 }));
    raw.socket.write(encodeStreamData(2, false, 0, Buffer.from('"x"'), true));
    await until(() => framesOf(raw.bytes()).filter((f) => answered(1)(f) || answered(2)(f)).length === 2);
    const frames = framesOf(raw.bytes());
    const one = frames.find(answered(1))!;
    expect(one.status).toBe(Status.OK);
    expect(JSON.parse(one.body.toString('utf8'))).toBe(10);
    const two = frames.find(answered(2))!;
    expect(two.status).toBe(Status.SERIALIZATION_ERROR);
    expect(JSON.parse(two.body.toString('utf8'))).toMatchObject({ reason: 'PLEXUS_ERR_PROTOCOL_DESERIALIZE' });
  });
});

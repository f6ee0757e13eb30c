/**
 * Streaming over gRPC, all three kinds, both ways: an unmodified grpc-js client calls a Plexus
 * provider, a Plexus consumer calls an unmodified grpc-js server, and Plexus calls Plexus with and
 * without a .proto.
 */
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Plexus } from '@plexus/kernel';
import { RpcCode, RpcError } from '@plexus/kernel/spi';
import { app, cleanup, FEED_PROTO, feedClient, feedPackage, grpcServer, provider, sleep } from './support';

afterEach(cleanup);
jest.setTimeout(20_000);

interface Ask {
  count?: number;
  delay_ms?: number;
  fail_after?: number;
  tag?: string;
}
interface Item {
  n: number;
  tag?: string;
  seen?: Record<string, string>;
}

let finallies = 0;
let produced = 0;

/** The Plexus implementation of feed.Feed. */
const feedImpl = {
  async *Count(ask: Ask) {
    try {
      for (let i = 0; i < (ask.count ?? 0); i++) {
        if ((ask.fail_after ?? 0) > 0 && i === ask.fail_after) throw Object.assign(new Error('ran dry'), { code: grpc.status.OUT_OF_RANGE });
        if ((ask.delay_ms ?? 0) > 0) await sleep(ask.delay_ms!);
        produced++;
        yield { n: i, tag: ask.tag ?? '', seen: i === 0 ? { ...Plexus.context().attachments } : {} };
      }
      // Trailers go after the last item: what the generator sets while it runs reaches the client.
      Plexus.context().responseAttachments['items-sent'] = String(ask.count);
    } finally {
      finallies++;
    }
  },
  async Sum(items: AsyncIterable<Item>) {
    let sum = 0;
    let count = 0;
    for await (const item of items) {
      sum += item.n;
      count++;
    }
    return { sum, count };
  },
  async *Double(items: AsyncIterable<Item>) {
    for await (const item of items) yield { n: item.n * 2, tag: Plexus.context().attachments.tag ?? '' };
  },
  Single(ask: Ask) {
    return { n: ask.count ?? 0 };
  },
};

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** A grpc-js server-streaming call, read to its end: the items, the error if any, the trailers. */
function readAll(call: grpc.ClientReadableStream<Item>): Promise<{ items: Item[]; error?: grpc.ServiceError; trailers?: grpc.Metadata; headers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    const items: Item[] = [];
    let trailers: grpc.Metadata | undefined;
    let headers: grpc.Metadata | undefined;
    let error: grpc.ServiceError | undefined;
    call.on('metadata', (md) => (headers = md));
    call.on('data', (item: Item) => items.push(item));
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
      setImmediate(() => resolve({ items, error, trailers, headers }));
    });
    call.on('error', (e: grpc.ServiceError) => (error = e));
  });
}

describe('grpc-js client → Plexus grpc provider (streams)', () => {
  it('server streaming: 500 messages in order, metadata in, trailers out', async () => {
    const { port } = await provider('feed.Feed', feedImpl, { proto: FEED_PROTO });
    const md = new grpc.Metadata();
    md.set('tenant', 'blue');
    const r = await readAll(feedClient(port).Count({ count: 500, tag: 't' }, md));
    expect(r.error).toBeUndefined();
    expect(r.items.map((i) => i.n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(r.items[0].seen).toMatchObject({ tenant: 'blue' });
    expect(r.trailers?.get('items-sent')).toEqual(['500']);
  });

  it('client streaming: the provider reads the stream with for await and answers once', async () => {
    const { port } = await provider('feed.Feed', feedImpl, { proto: FEED_PROTO });
    const total = await new Promise<{ sum: number; count: number }>((resolve, reject) => {
      const call = feedClient(port).Sum((err: grpc.ServiceError | null, reply: { sum: number; count: number }) => (err ? reject(err) : resolve(reply)));
      for (let i = 1; i <= 100; i++) call.write({ n: i });
      call.end();
    });
    expect(total).toEqual({ sum: 5050, count: 100 });
  });

  it('bidirectional: each message answered as it arrives, before the client ends', async () => {
    const { port } = await provider('feed.Feed', feedImpl, { proto: FEED_PROTO });
    const md = new grpc.Metadata();
    md.set('tag', 'bidi');
    const call = feedClient(port).Double(md);
    const got: Item[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (item: Item) => got.push(item));
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write({ n: 1 });
    // An answer before the client ended its side: the provider streams while it reads.
    await waitFor(() => got.length === 1);
    call.write({ n: 2 });
    call.write({ n: 3 });
    call.end();
    await ended;
    expect(got).toEqual([
      { n: 2, tag: 'bidi', seen: {} },
      { n: 4, tag: 'bidi', seen: {} },
      { n: 6, tag: 'bidi', seen: {} },
    ]);
  });

  it('an error mid-stream arrives after the items, with the status the implementation chose', async () => {
    const { port } = await provider('feed.Feed', feedImpl, { proto: FEED_PROTO });
    const r = await readAll(feedClient(port).Count({ count: 10, fail_after: 3 }));
    expect(r.items.map((i) => i.n)).toEqual([0, 1, 2]);
    expect(r.error?.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(r.error?.details).toBe('ran dry');
  });

  it('the deadline covers the whole stream: DEADLINE_EXCEEDED after some items, and the generator stops', async () => {
    const { port } = await provider('feed.Feed', feedImpl, { proto: FEED_PROTO });
    const before = finallies;
    const started = Date.now();
    const r = await readAll(feedClient(port).Count({ count: 1000, delay_ms: 20 }, new grpc.Metadata(), { deadline: Date.now() + 400 }));
    expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(r.items.length).toBeGreaterThan(3);
    expect(r.items.length).toBeLessThan(1000);
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor(() => finallies === before + 1);
    const after = produced;
    await sleep(100);
    expect(produced).toBe(after);
  });

  it('a provider that answers before the client ended its stream: grpc-js gets the answer and stops sending', async () => {
    const impl = {
      async Sum(items: AsyncIterable<Item>) {
        for await (const item of items) return { sum: item.n, count: 1 };
        return { sum: 0, count: 0 };
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO });
    const call = await new Promise<{ reply?: { sum: number; count: number }; error?: grpc.ServiceError }>((resolve) => {
      const c = feedClient(port).Sum((error: grpc.ServiceError | null, reply: { sum: number; count: number }) => resolve(error ? { error } : { reply }));
      c.write({ n: 41 });
      // keeps sending without ending its side
      const more = setInterval(() => c.write({ n: 1 }), 5);
      c.on('status', () => clearInterval(more));
    });
    expect(call.error).toBeUndefined();
    expect(call.reply).toEqual({ sum: 41, count: 1 });
  });

  it('the deadline covers a client stream too: DEADLINE_EXCEEDED while the client still sends', async () => {
    const { port } = await provider('feed.Feed', feedImpl, { proto: FEED_PROTO });
    const started = Date.now();
    const outcome = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = feedClient(port).Sum(new grpc.Metadata(), { deadline: Date.now() + 300 }, (err: grpc.ServiceError | null) => resolve(err));
      const more = setInterval(() => call.write({ n: 1 }), 10);
      call.on('status', () => clearInterval(more));
    });
    expect(outcome?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('cancel from grpc-js (RST_STREAM) runs the provider generator finally', async () => {
    const { port } = await provider('feed.Feed', feedImpl, { proto: FEED_PROTO });
    const before = finallies;
    const call = feedClient(port).Count({ count: 100_000, delay_ms: 5 });
    let seen = 0;
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    call.on('data', () => {
      if (++seen === 3) call.cancel();
    });
    expect((await status).code).toBe(grpc.status.CANCELLED);
    await waitFor(() => finallies === before + 1);
  });
});

describe('Plexus consumer → grpc-js server (streams)', () => {
  let cancelledOnServer = 0;
  const impl: grpc.UntypedServiceImplementation = {
    Count(call: grpc.ServerWritableStream<Ask, Item>) {
      const count = call.request.count ?? 0;
      const delay = call.request.delay_ms ?? 0;
      let i = 0;
      call.on('cancelled', () => cancelledOnServer++);
      const next = () => {
        if (call.cancelled) return;
        if (i === count) {
          const trailer = new grpc.Metadata();
          trailer.set('served-by', 'grpc-js');
          call.end(trailer);
          return;
        }
        const big = call.metadata.get('big')[0] === String(i);
        call.write({ n: i++, tag: big ? 'x'.repeat(5000) : (call.metadata.get('tenant')[0] ?? '') });
        if (delay > 0) setTimeout(next, delay);
        else setImmediate(next);
      };
      next();
    },
    Sum(call: grpc.ServerReadableStream<Item, unknown>, cb: grpc.sendUnaryData<unknown>) {
      let sum = 0;
      let count = 0;
      call.on('data', (item: Item) => {
        sum += item.n;
        count++;
      });
      call.on('end', () => cb(null, { sum, count }));
    },
    Double(call: grpc.ServerDuplexStream<Item, Item>) {
      call.on('data', (item: Item) => call.write({ n: item.n * 2 }));
      call.on('end', () => call.end());
    },
  };

  async function consumer(port: number, reference: Record<string, unknown> = {}, grpcOptions: Record<string, unknown> = {}) {
    const c = app('feed-consumer', { protocols: [{ name: 'grpc', port: 0, ...grpcOptions }] });
    await c.start();
    return c.refer<{
      Count(ask: Ask): AsyncIterableIterator<Item>;
      Sum(items: AsyncIterable<Item>): Promise<{ sum: number; count: number }>;
      Double(items: AsyncIterable<Item>): AsyncIterableIterator<Item>;
    }>({
      interface: 'feed.Feed',
      url: `grpc://127.0.0.1:${port}`,
      proto: FEED_PROTO,
      retries: 0,
      timeout: 5000,
      methods: { Count: { stream: true }, Double: { stream: true } },
      ...reference,
    });
  }

  async function* items(n: number, delay = 0) {
    for (let i = 1; i <= n; i++) {
      if (delay > 0) await sleep(delay);
      yield { n: i };
    }
  }

  it('server streaming as an async iterable: 500 items in order, attachments as metadata', async () => {
    const port = await grpcServer(impl, feedPackage().Feed.service);
    const feed = await consumer(port);
    const got: Item[] = [];
    await Plexus.withAttachments({ tenant: 'blue' }, async () => {
      for await (const item of feed.Count({ count: 500 })) got.push(item);
    });
    expect(got.map((i) => i.n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(got[499].tag).toBe('blue');
  });

  it('the .proto alone makes the proxy return a streaming method\'s stream at once (no stream: true)', async () => {
    const port = await grpcServer(impl, feedPackage().Feed.service);
    const feed = await consumer(port, { methods: {} });
    const stream = feed.Count({ count: 3 });
    expect(typeof (stream as unknown as { then?: unknown }).then).toBe('undefined');
    const got: number[] = [];
    for await (const item of stream) got.push(item.n);
    expect(got).toEqual([0, 1, 2]);
    await expect(feed.Sum(items(3))).resolves.toEqual({ sum: 6, count: 3 });
  });

  it('client streaming: an AsyncIterable argument is sent message by message', async () => {
    const port = await grpcServer(impl, feedPackage().Feed.service);
    const feed = await consumer(port);
    await expect(feed.Sum(items(100))).resolves.toEqual({ sum: 5050, count: 100 });
  });

  it('bidirectional: answers arrive while the client still sends', async () => {
    const port = await grpcServer(impl, feedPackage().Feed.service);
    const feed = await consumer(port);
    const got: number[] = [];
    for await (const item of feed.Double(items(20, 5))) got.push(item.n);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 2));
  });

  it('the timeout covers the whole stream: a coded TIMEOUT after some items', async () => {
    const port = await grpcServer(impl, feedPackage().Feed.service);
    const feed = await consumer(port, { timeout: 300 });
    const got: Item[] = [];
    const started = Date.now();
    let caught: unknown;
    try {
      for await (const item of feed.Count({ count: 10_000, delay_ms: 10 })) got.push(item);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RpcError);
    expect((caught as RpcError).code).toBe(RpcCode.TIMEOUT);
    expect(got.length).toBeGreaterThan(3);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('an item over maxMessageSize fails the read with a coded error after the items before it', async () => {
    const port = await grpcServer(impl, feedPackage().Feed.service);
    const feed = await consumer(port, {}, { maxMessageSize: 2048 });
    const got: number[] = [];
    let caught: RpcError | undefined;
    try {
      await Plexus.withAttachments({ big: '2' }, async () => {
        for await (const item of feed.Count({ count: 10 })) got.push(item.n);
      });
    } catch (err) {
      caught = err as RpcError;
    }
    expect(got).toEqual([0, 1]);
    expect(caught?.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
    expect(caught?.reason).toBe('PLEXUS_ERR_GRPC_TOO_LARGE');
  });

  it('break resets the stream: the grpc-js server sees the call cancelled', async () => {
    const port = await grpcServer(impl, feedPackage().Feed.service);
    const feed = await consumer(port);
    const before = cancelledOnServer;
    for await (const item of feed.Count({ count: 100_000, delay_ms: 2 })) if (item.n === 5) break;
    await waitFor(() => cancelledOnServer === before + 1);
  });
});

describe('Plexus consumer → Plexus grpc provider (streams)', () => {
  it('over the .proto: all three kinds, and the exact code of an error mid-stream', async () => {
    const impl = {
      ...feedImpl,
      async *Count(ask: Ask) {
        for (let i = 0; i < (ask.count ?? 0); i++) yield { n: i };
        throw new RpcError('quota spent', RpcCode.LIMIT_EXCEEDED, { reason: 'MY_QUOTA' });
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO });
    const c = app('feed-consumer');
    await c.start();
    const feed = c.refer<{ Count(a: Ask): AsyncIterableIterator<Item>; Sum(i: AsyncIterable<Item>): Promise<unknown>; Double(i: AsyncIterable<Item>): AsyncIterableIterator<Item> }>({
      interface: 'feed.Feed',
      url: `grpc://127.0.0.1:${port}`,
      proto: FEED_PROTO,
      retries: 0,
      methods: { Count: { stream: true }, Double: { stream: true } },
    });
    const seen: number[] = [];
    let caught: RpcError | undefined;
    try {
      for await (const item of feed.Count({ count: 3 })) seen.push(item.n);
    } catch (err) {
      caught = err as RpcError;
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(caught?.code).toBe(RpcCode.LIMIT_EXCEEDED);
    expect(caught?.reason).toBe('MY_QUOTA');
    async function* three() {
      yield { n: 1 };
      yield { n: 2 };
      yield { n: 3 };
    }
    await expect(feed.Sum(three())).resolves.toEqual({ sum: 6, count: 3 });
    const doubled: number[] = [];
    for await (const item of feed.Double(three())) doubled.push(item.n);
    expect(doubled).toEqual([2, 4, 6]);
  });

  it('without a .proto (application/grpc+json): the stream argument at any position, the answer stream flagged by plexus-stream', async () => {
    let finals = 0;
    const impl = {
      async *ticks(n: number) {
        try {
          for (let i = 0; i < n; i++) {
            yield { i, at: Plexus.context().method };
            await sleep(2);
          }
        } finally {
          finals++;
        }
      },
      async sumFrom(start: number, items: AsyncIterable<number>, label: string) {
        let total = start;
        for await (const n of items) total += n;
        return `${label}=${total}`;
      },
      async *echo(items: AsyncIterable<unknown>) {
        for await (const v of items) yield v;
      },
      plain: (a: number, b: number) => a + b,
    };
    const { port } = await provider('acc.Ticks', impl);
    const c = app('ticks-consumer');
    await c.start();
    const ticks = c.refer<{
      ticks(n: number): AsyncIterableIterator<{ i: number; at: string }>;
      sumFrom(start: number, items: AsyncIterable<number>, label: string): Promise<string>;
      echo(items: AsyncIterable<unknown>): AsyncIterableIterator<unknown>;
      plain(a: number, b: number): Promise<number>;
    }>({ interface: 'acc.Ticks', url: `grpc://127.0.0.1:${port}`, retries: 0, methods: { ticks: { stream: true }, echo: { stream: true } } });
    const got: Array<{ i: number; at: string }> = [];
    for await (const t of ticks.ticks(50)) got.push(t);
    expect(got.map((t) => t.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // the generator runs in its call's context, between yields too
    expect(got.every((t) => t.at === 'ticks')).toBe(true);
    async function* nums() {
      for (let i = 1; i <= 10; i++) yield i;
    }
    await expect(ticks.sumFrom(100, nums(), 'total')).resolves.toBe('total=155');
    const values = [{ a: [1, 'two'] }, 'three', 4, null];
    async function* vals() {
      yield* values;
    }
    const echoed: unknown[] = [];
    for await (const v of ticks.echo(vals())) echoed.push(v);
    expect(echoed).toEqual(values);
    // a unary-declared call of a streaming method resolves to the stream
    const generic = c.generic('acc.Ticks', { url: `grpc://127.0.0.1:${port}`, retries: 0 } as never);
    const stream = await generic.$invoke<AsyncIterable<{ i: number }>>('ticks', [3]);
    const three: number[] = [];
    for await (const t of stream) three.push(t.i);
    expect(three).toEqual([0, 1, 2]);
    // generic $stream, and a stream expected where the provider answers one value
    const viaStream: number[] = [];
    for await (const t of generic.$stream<{ i: number }>('ticks', [2])) viaStream.push(t.i);
    expect(viaStream).toEqual([0, 1]);
    const single = generic.$stream('plain', [1, 2]);
    await expect(single.next()).rejects.toMatchObject({ reason: 'PLEXUS_ERR_STREAM_NOT_A_STREAM' });
    // break runs the provider's finally
    const before = finals;
    for await (const t of ticks.ticks(100_000)) if (t.i === 3) break;
    await waitFor(() => finals === before + 1);
    expect(await ticks.plain(40, 2)).toBe(42);
    // more than one stream argument is refused before anything is sent
    await expect(ticks.sumFrom(0, nums(), nums() as never)).rejects.toMatchObject({ reason: 'PLEXUS_ERR_STREAM_ARGS' });
  });

  it('a connection that drops mid-stream fails the reader with a coded NETWORK error after its items; the provider generator stops', async () => {
    let finals = 0;
    const impl = {
      async *ticks() {
        try {
          for (let i = 0; ; i++) {
            yield i;
            await sleep(5);
          }
        } finally {
          finals++;
        }
      },
    };
    const { port } = await provider('acc.Drop', impl);
    // A TCP relay between the two, so the test can cut the connection as a network would.
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((inbound) => {
      const outbound = net.connect(port, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const c = app('drop-consumer');
      await c.start();
      const drop = c.refer<{ ticks(): AsyncIterableIterator<number> }>({
        interface: 'acc.Drop',
        url: `grpc://127.0.0.1:${(relay.address() as net.AddressInfo).port}`,
        retries: 0,
        timeout: 10_000,
        methods: { ticks: { stream: true } },
      });
      const seen: number[] = [];
      let caught: RpcError | undefined;
      try {
        for await (const n of drop.ticks()) {
          seen.push(n);
          if (n === 5) for (const s of sockets) s.destroy();
        }
      } catch (err) {
        caught = err as RpcError;
      }
      expect(seen.slice(0, 6)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(caught?.code).toBe(RpcCode.NETWORK);
      expect(caught?.reason).toBe('PLEXUS_ERR_GRPC_DISCONNECTED');
      await waitFor(() => finals === 1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('a client stream the consumer abandons (its source fails, its deadline passes) is never taken for a complete one', async () => {
    const outcomes: string[] = [];
    const { port } = await provider('acc.Upload', {
      async put(items: AsyncIterable<number>) {
        let count = 0;
        try {
          for await (const n of items) count += n;
          outcomes.push(`complete after ${count}`);
        } catch (err) {
          outcomes.push((err as RpcError).code);
          throw err;
        }
        return count;
      },
    });
    const c = app('upload-consumer');
    await c.start();
    const upload = c.refer<{ put(items: AsyncIterable<number>): Promise<number> }>({ interface: 'acc.Upload', url: `grpc://127.0.0.1:${port}`, retries: 0, timeout: 300 });
    async function* failing() {
      yield 1;
      yield 1;
      await sleep(20);
      throw new Error('disk gone');
    }
    async function* slow() {
      for (;;) {
        yield 1;
        await sleep(10);
      }
    }
    for (let round = 0; round < 5; round++) {
      await expect(upload.put(failing())).rejects.toMatchObject({ message: expect.stringMatching(/disk gone/) });
      await expect(upload.put(slow())).rejects.toMatchObject({ code: RpcCode.TIMEOUT });
    }
    await waitFor(() => outcomes.length === 10);
    // the provider's read fails (the reset cancels its call), it never sees an end
    expect(outcomes.filter((o) => o.startsWith('complete'))).toEqual([]);
  });

  it("the caller's abort signal ends a stream with CANCELLED and stops the provider's generator", async () => {
    let finals = 0;
    const { port } = await provider('acc.Abort', {
      async *ticks() {
        try {
          for (let i = 0; ; i++) {
            yield i;
            await sleep(5);
          }
        } finally {
          finals++;
        }
      },
    });
    const c = app('abort-consumer');
    await c.start();
    const ticks = c.refer<{ ticks(): AsyncIterableIterator<number> }>({ interface: 'acc.Abort', url: `grpc://127.0.0.1:${port}`, retries: 0, timeout: 10_000, methods: { ticks: { stream: true } } });
    const ac = new AbortController();
    const seen: number[] = [];
    await expect(
      Plexus.withCallOptions({ signal: ac.signal }, async () => {
        for await (const n of ticks.ticks()) {
          seen.push(n);
          if (n === 3) ac.abort();
        }
      }),
    ).rejects.toMatchObject({ code: RpcCode.CANCELLED });
    expect(seen).toEqual([0, 1, 2, 3]);
    await waitFor(() => finals === 1);
  });

  it('a one-way call with a stream argument is refused before anything is sent', async () => {
    let called = 0;
    const { port } = await provider('acc.Sink', {
      async drain(items: AsyncIterable<number>) {
        called++;
        for await (const n of items) void n;
      },
    });
    const c = app('sink-consumer');
    await c.start();
    const sink = c.refer<{ drain(items: AsyncIterable<number>): Promise<void> }>({ interface: 'acc.Sink', url: `grpc://127.0.0.1:${port}`, retries: 0, methods: { drain: { oneWay: true } } });
    async function* one() {
      yield 1;
    }
    await expect(sink.drain(one())).rejects.toMatchObject({ reason: 'PLEXUS_ERR_GRPC_STREAMING', message: expect.stringMatching(/one-way/) });
    await sleep(50);
    expect(called).toBe(0);
  });

  it('a reader slower than the provider holds it by flow control: memory stays bounded', async () => {
    let made = 0;
    const impl = {
      async *flood() {
        for (let i = 0; ; i++) {
          made++;
          yield 'x'.repeat(1000);
        }
      },
    };
    const { port } = await provider('acc.Flood', impl);
    const c = app('flood-consumer');
    await c.start();
    const flood = c.refer<{ flood(): AsyncIterableIterator<string> }>({ interface: 'acc.Flood', url: `grpc://127.0.0.1:${port}`, retries: 0, timeout: 10_000, methods: { flood: { stream: true } } });
    const it = flood.flood();
    await it.next();
    await sleep(500);
    // ~1 KB items: the consumer's window (256 KiB), HTTP/2's windows and the socket buffers hold a
    // few thousand at most, never the millions an unbounded producer would make in half a second.
    const held = made;
    expect(held).toBeLessThan(20_000);
    await sleep(300);
    expect(made - held).toBeLessThan(100);
    for (let i = 0; i < 5000; i++) await it.next();
    expect(made).toBeGreaterThan(5000);
    await it.return!();
  });
});

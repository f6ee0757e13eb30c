/**
 * The grpc server's limits for streams (DESIGN §12), over raw HTTP/2 from node:http2: a client that
 * floods or resets streams, one whose client stream falls silent or keeps sending past
 * requestTimeout, one that never reads a server stream, and one that sends a client stream faster
 * than the provider reads it.
 */
import * as http2 from 'node:http2';
import { loadProto } from '@plexus/serializer-protobuf';
import { cleanup, FEED_PROTO, provider, sleep } from './support';

afterEach(cleanup);
jest.setTimeout(20_000);

const feed = loadProto(FEED_PROTO).service('feed.Feed');
const count = feed.method('Count');
const sum = feed.method('Sum');

const sessions: http2.ClientHttp2Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.destroy();
});

function connect(port: number, options: http2.ClientSessionOptions = {}): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`, options);
  s.on('error', () => undefined);
  sessions.push(s);
  return s;
}

function prefix(body: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

function open(session: http2.ClientHttp2Session, method: string): http2.ClientHttp2Stream {
  const req = session.request({ ':method': 'POST', ':path': `/feed.Feed/${method}`, 'content-type': 'application/grpc+proto', te: 'trailers' }, { endStream: false });
  req.on('error', () => undefined);
  return req;
}

interface Closed {
  rstCode: number;
  trailers: http2.IncomingHttpHeaders;
  data: number;
}

function closed(req: http2.ClientHttp2Stream): Promise<Closed> {
  return new Promise((resolve) => {
    let trailers: http2.IncomingHttpHeaders = {};
    let data = 0;
    req.on('trailers', (t) => (trailers = t));
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) trailers = h;
    });
    req.on('data', (c: Buffer) => (data += c.length));
    req.on('close', () => resolve({ rstCode: req.rstCode ?? 0, trailers, data }));
  });
}

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('grpc server limits for streams', () => {
  it('maxConcurrentStreams counts open streams: a third server stream waits for one of two to end', async () => {
    const impl = {
      async *Count(ask: { count: number; delay_ms: number }) {
        for (let i = 0; i < ask.count; i++) {
          await sleep(ask.delay_ms);
          yield { n: i };
        }
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO }, { maxConcurrentStreams: 2 });
    const s = connect(port);
    await new Promise<void>((resolve) => s.once('remoteSettings', () => resolve()));
    expect(s.remoteSettings.maxConcurrentStreams).toBe(2);
    const started = Date.now();
    const ends: number[] = [];
    const calls = [0, 1, 2].map(() => {
      const req = open(s, 'Count');
      req.end(prefix(count.request.encode({ count: 10, delay_ms: 30 })));
      return closed(req).then((c) => {
        ends.push(Date.now() - started);
        return c;
      });
    });
    const outcomes = await Promise.all(calls);
    expect(outcomes.every((o) => o.trailers['grpc-status'] === '0')).toBe(true);
    ends.sort((a, b) => a - b);
    // two streams of ~300 ms at once, the third only after one of them ended
    expect(ends[2]).toBeGreaterThanOrEqual(ends[0] + 250);
  });

  it('a client that resets streams as fast as it opens them: every started generator runs its finally, the server keeps serving', async () => {
    let started = 0;
    let finals = 0;
    const impl = {
      async *Count() {
        started++;
        try {
          for (let i = 0; ; i++) {
            yield { n: i };
            await sleep(1);
          }
        } finally {
          finals++;
        }
      },
      Single: (ask: { count: number }) => ({ n: ask.count }),
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO });
    const s = connect(port);
    const body = prefix(count.request.encode({ count: 0 }));
    const resets: Array<Promise<Closed>> = [];
    for (let i = 0; i < 300; i++) {
      const req = open(s, 'Count');
      req.end(body);
      const done = closed(req);
      // half reset at once, half after their first item
      if (i % 2 === 0) req.close(http2.constants.NGHTTP2_CANCEL);
      else req.once('data', () => req.close(http2.constants.NGHTTP2_CANCEL));
      resets.push(done);
    }
    await Promise.all(resets);
    await waitFor(() => finals === started);
    expect(started).toBeGreaterThanOrEqual(150);
    const req = open(s, 'Single');
    req.end(prefix(feed.method('Single').request.encode({ count: 7 })));
    const ok = await closed(req);
    expect(ok.trailers['grpc-status']).toBe('0');
  });

  it('a client stream that falls silent (no message, no END_STREAM) is reset after requestTimeout; the provider loop ends', async () => {
    let providerSaw: unknown;
    const impl = {
      async Sum(items: AsyncIterable<{ n: number }>) {
        try {
          for await (const item of items) void item;
        } catch (err) {
          providerSaw = err;
          throw err;
        }
        return { sum: 0, count: 0 };
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO }, { requestTimeout: 300 });
    const s = connect(port);
    const req = open(s, 'Sum');
    const begun = Date.now();
    req.write(prefix(sum.request.encode({ n: 1 })));
    const c = await closed(req);
    expect(c.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(Date.now() - begun).toBeGreaterThanOrEqual(250);
    await waitFor(() => providerSaw !== undefined);
    expect((providerSaw as { reason?: string }).reason).toBe('PLEXUS_ERR_GRPC_REQUEST_TIMEOUT');
  });

  it('grpc-timeout covers a client stream: DEADLINE_EXCEEDED in the trailers while the client still sends, the provider read fails SERVER_TIMEOUT', async () => {
    let providerSaw: { code?: string } | undefined;
    const impl = {
      async Sum(items: AsyncIterable<{ n: number }>) {
        try {
          for await (const item of items) void item;
        } catch (err) {
          providerSaw = err as { code?: string };
          throw err;
        }
        return { sum: 0, count: 0 };
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO });
    const s = connect(port);
    const req = s.request({ ':method': 'POST', ':path': '/feed.Feed/Sum', 'content-type': 'application/grpc+proto', te: 'trailers', 'grpc-timeout': '300m' }, { endStream: false });
    req.on('error', () => undefined);
    const done = closed(req);
    const begun = Date.now();
    const more = setInterval(() => {
      if (!req.closed && !req.destroyed) req.write(prefix(sum.request.encode({ n: 1 })));
    }, 10);
    const c = await done;
    clearInterval(more);
    expect(c.trailers['grpc-status']).toBe('4');
    expect(Date.now() - begun).toBeGreaterThanOrEqual(250);
    await waitFor(() => providerSaw !== undefined);
    expect(providerSaw!.code).toBe('SERVER_TIMEOUT');
  });

  it('a client stream that keeps sending lives past requestTimeout: each message restarts it', async () => {
    const impl = {
      async Sum(items: AsyncIterable<{ n: number }>) {
        let total = 0;
        let n = 0;
        for await (const item of items) {
          total += item.n;
          n++;
        }
        return { sum: total, count: n };
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO }, { requestTimeout: 300 });
    const s = connect(port);
    const req = open(s, 'Sum');
    const done = closed(req);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const begun = Date.now();
    for (let i = 1; i <= 10; i++) {
      req.write(prefix(sum.request.encode({ n: i })));
      await sleep(100);
    }
    req.end();
    const c = await done;
    expect(Date.now() - begun).toBeGreaterThanOrEqual(900);
    expect(c.trailers['grpc-status']).toBe('0');
    expect(sum.response.decode(Buffer.concat(chunks).subarray(5))).toEqual({ sum: 55, count: 10 });
  });

  it('a client that never reads a server stream: HTTP/2 flow control holds the generator, writeTimeout resets the stream', async () => {
    let made = 0;
    let finals = 0;
    const impl = {
      async *Count() {
        try {
          for (let i = 0; ; i++) {
            made++;
            yield { n: i, tag: 'x'.repeat(1000) };
          }
        } finally {
          finals++;
        }
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO }, { writeTimeout: 300 });
    // A window of 0: headers may come, DATA never, since the client never opens it.
    const s = connect(port, { settings: { initialWindowSize: 0 } });
    const req = open(s, 'Count');
    const begun = Date.now();
    req.end(prefix(count.request.encode({ count: 0 })));
    const c = await closed(req);
    expect(c.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(Date.now() - begun).toBeGreaterThanOrEqual(250);
    expect(Date.now() - begun).toBeLessThan(5000);
    // the generator waited for the window instead of filling memory: a stream's write buffer, not millions
    expect(made).toBeLessThan(200);
    await waitFor(() => finals === 1);
  });

  it('malformed client streams get coded statuses: a garbage item, an item over maxMessageSize, a bad plexus-stream-arg, no argument list', async () => {
    let providerSaw: unknown;
    const impl = {
      async Sum(items: AsyncIterable<{ n: number }>) {
        try {
          for await (const item of items) void item;
        } catch (err) {
          providerSaw = err;
          throw err;
        }
        return { sum: 0, count: 0 };
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO }, { maxMessageSize: 4096 });
    const s = connect(port);
    const garbage = open(s, 'Sum');
    garbage.write(prefix(sum.request.encode({ n: 1 })));
    garbage.write(prefix(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])));
    const g = await closed(garbage);
    expect(g.trailers['grpc-status']).toBe('13');
    expect(g.trailers['plexus-reason']).toBe('PLEXUS_ERR_PROTOBUF_DECODE');
    await waitFor(() => providerSaw !== undefined);
    const big = open(s, 'Sum');
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1 << 30, 1);
    big.write(head);
    const b = await closed(big);
    expect(b.trailers['grpc-status']).toBe('8');
    expect(b.trailers['plexus-reason']).toBe('PLEXUS_ERR_GRPC_TOO_LARGE');
    // Between Plexus peers without a .proto: the stream's position must name an argument, and the argument list must come first.
    const { port: jsonPort } = await provider('acc.Sum', { total: async (items: AsyncIterable<number>) => items && 0 });
    const j = connect(jsonPort);
    const json = (headers: http2.OutgoingHttpHeaders) => {
      const req = j.request({ ':method': 'POST', ':path': '/acc.Sum/total', 'content-type': 'application/grpc+json', te: 'trailers', ...headers }, { endStream: false });
      req.on('error', () => undefined);
      return req;
    };
    const badArg = json({ 'plexus-stream-arg': 'first' });
    badArg.end();
    const ba = await closed(badArg);
    expect(ba.trailers['grpc-status']).toBe('3');
    expect(ba.trailers['plexus-reason']).toBe('PLEXUS_ERR_GRPC_BAD_HEADER');
    const outside = json({ 'plexus-stream-arg': '3' });
    outside.end(prefix(Buffer.from('[null]')));
    const o = await closed(outside);
    expect(decodeURIComponent(String(o.trailers['grpc-message']))).toMatch(/names argument 3 of 1/);
    const none = json({ 'plexus-stream-arg': '0' });
    none.end();
    const n = await closed(none);
    expect(decodeURIComponent(String(n.trailers['grpc-message']))).toMatch(/ended before the argument list/);
  });

  it('a client stream sent faster than the provider reads is paused by flow control, then delivered whole', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const impl = {
      async Sum(items: AsyncIterable<{ n: number; tag: string }>) {
        await gate;
        let total = 0;
        let n = 0;
        for await (const item of items) {
          total += item.n;
          n++;
        }
        return { sum: total, count: n };
      },
    };
    const { port } = await provider('feed.Feed', impl, { proto: FEED_PROTO });
    const s = connect(port);
    const req = open(s, 'Sum');
    const done = closed(req);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const item = (i: number) => prefix(sum.request.encode({ n: i, tag: 'y'.repeat(1000) }));
    // Write until the stream stops draining: the server stopped reading.
    let written = 0;
    let flushed = 0;
    for (;;) {
      written++;
      const more = req.write(item(written), () => flushed++);
      if (!more) {
        const drained = await Promise.race([new Promise<boolean>((r) => req.once('drain', () => r(true))), sleep(500).then(() => false)]);
        if (!drained) break;
      }
      if (written > 50_000) throw new Error('the server never stopped the client: nothing bounds its buffering');
    }
    // ~1 KB messages: the provider's window (256 KiB) plus HTTP/2's windows, nowhere near unbounded
    expect(flushed * 1010).toBeLessThan(2 * 1024 * 1024);
    release();
    req.end();
    const c = await done;
    expect(c.trailers['grpc-status']).toBe('0');
    expect(sum.response.decode(Buffer.concat(chunks).subarray(5))).toEqual({ sum: (written * (written + 1)) / 2, count: written });
  });
});

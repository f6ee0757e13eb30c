/**
 * The grpc server's limits (DESIGN §12) over raw HTTP/2 streams from node:http2: sizes, streams,
 * headers, peers that never end a request or never read an answer, keepalive, and malformed input.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { loadProto } from '@plexus/serializer-protobuf';
import { cleanup, GREETER_PROTO, provider, sleep } from './support';

afterEach(cleanup);
jest.setTimeout(20_000);

const codec = loadProto(GREETER_PROTO).service('helloworld.Greeter').method('SayHello');
const greeter = {
  SayHello: (req: { name: string }) => ({ message: `Hello ${req.name}`, seen: {} }),
  SayHelloSlow: async (req: { delay_ms: string }) => {
    await sleep(Number(req.delay_ms));
    return { message: 'x'.repeat(200_000) };
  },
};

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

function prefix(body: Uint8Array, flag = 0, declared = body.length): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = flag;
  out.writeUInt32BE(declared, 1);
  out.set(body, 5);
  return out;
}

interface Outcome {
  status?: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  data: Buffer;
  rstCode?: number;
}

/** One stream: headers, then `body` (and END_STREAM unless `end` is false); resolves at close. */
function call(session: http2.ClientHttp2Session, path: string, body: Buffer | undefined, headers: http2.OutgoingHttpHeaders = {}, end = true): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc+proto', te: 'trailers', ...headers }, { endStream: false });
    const out: Outcome = { headers: {}, trailers: {}, data: Buffer.alloc(0) };
    req.on('response', (h) => {
      out.headers = h;
      out.status = Number(h[':status']);
    });
    req.on('trailers', (t) => {
      out.trailers = t;
    });
    req.on('data', (c: Buffer) => {
      out.data = Buffer.concat([out.data, c]);
    });
    req.on('error', () => undefined);
    req.on('close', () => {
      out.rstCode = req.rstCode;
      resolve(out);
    });
    if (body !== undefined) req.write(body);
    if (end) req.end();
  });
}

const o2s = (b: Buffer) => b.toString('utf8');
const grpcStatus = (o: Outcome) => o.trailers['grpc-status'] ?? o.headers['grpc-status'];
const grpcMessage = (o: Outcome) => decodeURIComponent(String(o.trailers['grpc-message'] ?? o.headers['grpc-message'] ?? ''));

describe('grpc server limits and hostile input', () => {
  it('answers a well-formed call, and gzip when grpc-encoding says gzip', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const s = connect(port);
    const ok = await call(s, '/helloworld.Greeter/SayHello', prefix(codec.request.encode({ name: 'ada' })));
    expect(grpcStatus(ok)).toBe('0');
    expect(codec.response.decode(ok.data.subarray(5)).message).toBe('Hello ada');
    const gz = await call(s, '/helloworld.Greeter/SayHello', prefix(zlib.gzipSync(codec.request.encode({ name: 'gz' })), 1), { 'grpc-encoding': 'gzip' });
    expect(codec.response.decode(gz.data.subarray(5)).message).toBe('Hello gz');
    // flagged compressed without an encoding: refused, coded
    const bad = await call(s, '/helloworld.Greeter/SayHello', prefix(codec.request.encode({ name: 'x' }), 1));
    expect(grpcStatus(bad)).not.toBe('0');
    expect(grpcMessage(bad)).toMatch(/compressed/);
    // an encoding nobody negotiated
    const br = await call(s, '/helloworld.Greeter/SayHello', prefix(codec.request.encode({ name: 'x' })), { 'grpc-encoding': 'br' });
    expect(grpcStatus(br)).toBe('12');
  });

  it('refuses a message over maxMessageSize from its prefix, and a gzip bomb past it', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO }, { maxMessageSize: 2048 });
    const s = connect(port);
    // declares 1 GiB, sends 10 bytes: refused at once, nothing buffered
    const big = await call(s, '/helloworld.Greeter/SayHello', prefix(Buffer.alloc(10), 0, 1 << 30), {}, false);
    expect(grpcStatus(big)).toBe('8');
    expect(big.headers['plexus-reason']).toBe('PLEXUS_ERR_GRPC_TOO_LARGE');
    const bomb = zlib.gzipSync(codec.request.encode({ name: 'a'.repeat(1_000_000) }));
    expect(bomb.length).toBeLessThan(2048);
    const inflated = await call(s, '/helloworld.Greeter/SayHello', prefix(bomb, 1), { 'grpc-encoding': 'gzip' });
    expect(grpcStatus(inflated)).toBe('8');
  });

  it('refuses a malformed message, two messages and none with coded statuses', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const s = connect(port);
    const garbage = await call(s, '/helloworld.Greeter/SayHello', prefix(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])));
    expect(grpcStatus(garbage)).toBe('13');
    expect(garbage.headers['plexus-reason']).toBe('PLEXUS_ERR_PROTOBUF_DECODE');
    const one = prefix(codec.request.encode({ name: 'a' }));
    const two = await call(s, '/helloworld.Greeter/SayHello', Buffer.concat([one, one]));
    expect(grpcMessage(two)).toMatch(/one message/);
    const none = await call(s, '/helloworld.Greeter/SayHello', undefined);
    expect(grpcMessage(none)).toMatch(/without a message/);
    const flag = await call(s, '/helloworld.Greeter/SayHello', prefix(Buffer.alloc(0), 7));
    expect(grpcMessage(flag)).toMatch(/compressed flag 7/);
    const timeout = await call(s, '/helloworld.Greeter/SayHello', one, { 'grpc-timeout': '10 seconds' });
    expect(grpcStatus(timeout)).toBe('3');
  });

  it('a service without a .proto naming serializer: msgpack reads bare application/grpc (grpc-js with its own serialize functions) and +msgpack', async () => {
    const { port } = await provider('acc.Echo', { Echo: (v: unknown) => v }, { serializer: 'msgpack' });
    const s = connect(port);
    // "hi" as MessagePack, written by hand: fixstr of 2 bytes
    const packed = Buffer.from([0xa2, 0x68, 0x69]);
    for (const type of ['application/grpc', 'application/grpc+msgpack']) {
      const o = await call(s, '/acc.Echo/Echo', prefix(packed), { 'content-type': type });
      expect(grpcStatus(o)).toBe('0');
      expect(o.data).toEqual(prefix(packed));
    }
    const json = await call(s, '/acc.Echo/Echo', prefix(Buffer.from('{"a":2}')), { 'content-type': 'application/grpc+json' });
    expect(grpcStatus(json)).toBe('0');
    expect(o2s(json.data.subarray(5))).toBe('{"a":2}');
    const other = await call(s, '/acc.Echo/Echo', prefix(packed), { 'content-type': 'application/grpc+cbor' });
    expect(grpcStatus(other)).toBe('12');
    expect(grpcMessage(other)).toMatch(/does not speak application\/grpc\+cbor \(it speaks msgpack, json\)/);
    // a service with neither .proto nor serializer: a bare application/grpc is protobuf it cannot read
    const { port: plain } = await provider('acc.Plain', { Echo: (v: unknown) => v });
    const bare = await call(connect(plain), '/acc.Plain/Echo', prefix(packed), { 'content-type': 'application/grpc' });
    expect(bare.headers['plexus-reason']).toBe('PLEXUS_ERR_GRPC_NO_PROTO');
  });

  it('answers non-gRPC requests with HTTP statuses', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const s = connect(port);
    const plain = await call(s, '/helloworld.Greeter/SayHello', undefined, { 'content-type': 'text/plain' });
    expect(plain.status).toBe(415);
    expect(grpcMessage(plain)).toMatch(/text\/plain" is not gRPC/);
    const get = await new Promise<number>((resolve) => {
      const req = s.request({ ':method': 'GET', ':path': '/' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', () => undefined);
      req.end();
    });
    expect(get).toBe(405);
  });

  it('announces maxConcurrentStreams: calls past it wait for a free stream', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO }, { maxConcurrentStreams: 3 });
    const s = connect(port);
    await new Promise<void>((resolve) => s.once('remoteSettings', () => resolve()));
    expect(s.remoteSettings.maxConcurrentStreams).toBe(3);
    // Node's client queues past the peer's limit; nghttp2 on the server refuses a peer that ignores it.
    const slow = prefix(codec.request.encode({ name: 'x', delay_ms: 300 }));
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => call(s, '/helloworld.Greeter/SayHelloSlow', slow)));
    expect(outcomes.every((o) => grpcStatus(o) === '0')).toBe(true);
    // six calls of 300 ms, at most three at once: two rounds
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });

  it('refuses a header block over maxHeaderListSize', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO }, { maxHeaderListSize: 2048 });
    const s = connect(port);
    await new Promise<void>((resolve) => s.once('remoteSettings', () => resolve()));
    expect(s.remoteSettings.maxHeaderListSize).toBe(2048);
    const o = await call(s, '/helloworld.Greeter/SayHello', prefix(codec.request.encode({ name: 'a' })), { 'x-big': 'y'.repeat(8192) });
    expect(grpcStatus(o)).toBeUndefined();
    expect(o.rstCode).not.toBe(0);
  });

  it('resets a stream whose request never ends after requestTimeout, and keeps serving', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO }, { requestTimeout: 300 });
    const s = connect(port);
    const started = Date.now();
    const hung = await call(s, '/helloworld.Greeter/SayHello', prefix(codec.request.encode({ name: 'a' })), {}, false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(hung.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    const ok = await call(s, '/helloworld.Greeter/SayHello', prefix(codec.request.encode({ name: 'b' })));
    expect(grpcStatus(ok)).toBe('0');
  });

  it('resets an answer the client never reads after writeTimeout', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO }, { writeTimeout: 300 });
    // A window of 0: the server may send headers but no DATA until the client opens it, which it never does.
    const s = connect(port, { settings: { initialWindowSize: 0 } });
    const started = Date.now();
    const o = await call(s, '/helloworld.Greeter/SayHelloSlow', prefix(codec.request.encode({ name: 'a', delay_ms: 0 })));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(o.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  });

  it('closes connections past maxConnections at once', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO }, { maxConnections: 1 });
    const first = connect(port);
    expect(grpcStatus(await call(first, '/helloworld.Greeter/SayHello', prefix(codec.request.encode({ name: 'a' }))))).toBe('0');
    const second = connect(port);
    const closed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 3000);
      second.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    expect(closed).toBe(true);
    expect(grpcStatus(await call(first, '/helloworld.Greeter/SayHello', prefix(codec.request.encode({ name: 'b' }))))).toBe('0');
  });

  it('pings an idle connection every keepaliveTime and closes one that never answers', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO }, { keepaliveTime: 100, keepaliveTimeout: 200 });
    const s = connect(port);
    const pinged = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 2000);
      s.once('ping', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    expect(pinged).toBe(true);
    // A raw peer: the connection preface and SETTINGS, then silence — no PING ACK ever.
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    const started = Date.now();
    const closed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      socket.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    expect(closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });
});

/**
 * A Plexus consumer with `url: grpc://127.0.0.1:<port>` calls an unmodified grpc-js server, and
 * a Plexus grpc provider (proto and json).
 */
import * as grpc from '@grpc/grpc-js';
import { Plexus } from '@plexus/kernel';
import { RpcCode, RpcError } from '@plexus/kernel/spi';
import { app, cleanup, GREETER_PROTO, grpcServer, provider, sleep } from './support';

afterEach(cleanup);
jest.setTimeout(20_000);

interface Greeter {
  SayHello(req: { name?: string; fail?: boolean }): Promise<{ message: string; seen: Record<string, string> }>;
  SayHelloSlow(req: { delay_ms: number }): Promise<{ message: string }>;
  SayHelloStream(req: { name: string }): Promise<unknown>;
}

async function consumer(port: number, reference: Record<string, unknown> = {}, grpcOptions: Record<string, unknown> = {}): Promise<Greeter> {
  const c = app('greeter-consumer', { protocols: [{ name: 'grpc', port: 0, ...grpcOptions }] });
  await c.start();
  return c.refer<Greeter>({ interface: 'helloworld.Greeter', url: `grpc://127.0.0.1:${port}`, proto: GREETER_PROTO, retries: 0, timeout: 3000, ...reference });
}

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    return err as RpcError;
  }
  throw new Error('expected the call to fail');
}

describe('Plexus consumer → grpc-js server', () => {
  let seenMetadata: Record<string, unknown> = {};
  const impl: grpc.UntypedServiceImplementation = {
    SayHello(call: grpc.ServerUnaryCall<{ name: string; fail: boolean }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      seenMetadata = call.metadata.getMap();
      if (call.request.fail) {
        cb({ code: grpc.status.FAILED_PRECONDITION, details: `cannot greet ${call.request.name}` });
        return;
      }
      const trailer = new grpc.Metadata();
      trailer.set('served-by', 'grpc-js');
      cb(null, { message: `Hello ${call.request.name}`, seen: {} }, trailer);
    },
    SayHelloSlow(call: grpc.ServerUnaryCall<{ delay_ms: string }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      setTimeout(() => cb(null, { message: 'late' }), Number(call.request.delay_ms));
    },
  };

  it('calls with attachments as metadata and gets the reply', async () => {
    const port = await grpcServer(impl);
    const greeter = await consumer(port);
    const reply = await Plexus.withAttachments({ tenant: 'blue', 'blob-bin': Buffer.from('é').toString('base64') }, () => greeter.SayHello({ name: 'ada' }));
    expect(reply).toEqual({ message: 'Hello ada', seen: {} });
    expect(seenMetadata.tenant).toBe('blue');
    expect(Buffer.from(seenMetadata['blob-bin'] as Buffer).toString()).toBe('é');
  });

  it('a deadline is a coded TIMEOUT that arrives on time', async () => {
    const port = await grpcServer(impl);
    const greeter = await consumer(port, { timeout: 200 });
    const started = Date.now();
    const err = await rejection(greeter.SayHelloSlow({ delay_ms: 2000 }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(RpcCode.TIMEOUT);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a gRPC error status arrives coded, with the server message and status', async () => {
    const port = await grpcServer(impl);
    const greeter = await consumer(port);
    const err = await rejection(greeter.SayHello({ name: 'bob', fail: true }));
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
    expect(err.message).toBe('cannot greet bob');
    expect(err.data).toMatchObject({ grpcStatus: grpc.status.FAILED_PRECONDITION });
  });

  it('a value that does not match the request type is a coded SERIALIZATION error, sent nowhere', async () => {
    const port = await grpcServer(impl);
    const greeter = await consumer(port);
    const err = await rejection(greeter.SayHello({ name: 42 as unknown as string }));
    expect(err.code).toBe(RpcCode.SERIALIZATION);
    expect(err.reason).toBe('PLEXUS_ERR_PROTOBUF_ENCODE');
    expect(err.message).toMatch(/name must be a string/);
  });

  it('a stream argument to a unary method, a method the server lacks and a missing server are coded errors', async () => {
    const port = await grpcServer(impl);
    const greeter = await consumer(port);
    async function* names() {
      yield { name: 'x' };
    }
    const wrongKind = await rejection(greeter.SayHello(names() as never));
    expect(wrongKind.reason).toBe('PLEXUS_ERR_GRPC_STREAMING');
    expect(wrongKind.message).toMatch(/declares one request message/);
    // A streaming method of the .proto: the proxy hands its stream back at once; the server's answer fails the first read.
    const missing = (async () => {
      for await (const _ of greeter.SayHelloStream({ name: 'x' }) as unknown as AsyncIterable<unknown>) void _;
    })();
    expect((await rejection(missing)).code).toBe(RpcCode.METHOD_NOT_FOUND);
    const nobody = await consumer(1, {}, {});
    const err = await rejection(nobody.SayHello({ name: 'x' }));
    expect(err.code).toBe(RpcCode.NETWORK);
    expect(err.reason).toBe('PLEXUS_ERR_GRPC_CONNECT');
  });
});

describe('Plexus consumer → Plexus grpc provider', () => {
  it('keeps the exact RpcCode and reason across, and cancels the provider when the consumer times out', async () => {
    let signal: AbortSignal | undefined;
    const { port } = await provider(
      'helloworld.Greeter',
      {
        SayHello: () => {
          throw new RpcError('too many', RpcCode.LIMIT_EXCEEDED, { reason: 'MY_REASON' });
        },
        SayHelloSlow: async () => {
          signal = Plexus.context().signal;
          await sleep(1500);
          return { message: 'late' };
        },
      },
      { proto: GREETER_PROTO },
    );
    const greeter = await consumer(port, { timeout: 300 });
    const err = await rejection(greeter.SayHello({ name: 'x' }));
    expect(err.code).toBe(RpcCode.LIMIT_EXCEEDED);
    expect(err.reason).toBe('MY_REASON');
    expect((await rejection(greeter.SayHelloSlow({ delay_ms: 0 }))).code).toBe(RpcCode.TIMEOUT);
    await sleep(100);
    expect(signal?.aborted).toBe(true);
  });

  it('speaks application/grpc+json without a .proto, several arguments included', async () => {
    const { port } = await provider('acc.Calc', { add: (a: number, b: number) => a + b, echo: (v: unknown) => v, who: () => Plexus.context().attachments.who });
    const c = app('calc-consumer');
    await c.start();
    const calc = c.refer<{ add(a: number, b: number): Promise<number>; echo(v: unknown): Promise<unknown>; who(): Promise<string> }>({
      interface: 'acc.Calc',
      url: `grpc://127.0.0.1:${port}`,
      retries: 0,
    });
    expect(await calc.add(40, 2)).toBe(42);
    expect(await calc.echo({ a: [1, 'two', null] })).toEqual({ a: [1, 'two', null] });
    expect(await Plexus.withAttachments({ who: 'ada' }, () => calc.who())).toBe('ada');
  });
});

describe('plain bodies by the serializer named', () => {
  it('a consumer and a provider naming serializer: msgpack speak application/grpc+msgpack (binary stays binary), streams included', async () => {
    const { port } = await provider('acc.Bin', {
      size: (b: Uint8Array) => b.length,
      async *chunks(n: number) {
        for (let i = 0; i < n; i++) yield Buffer.alloc(i + 1, i);
      },
    }, { serializer: 'msgpack' });
    const c = app('bin-consumer');
    await c.start();
    const bin = c.refer<{ size(b: Uint8Array): Promise<number>; chunks(n: number): AsyncIterableIterator<Uint8Array> }>({
      interface: 'acc.Bin',
      url: `grpc://127.0.0.1:${port}`,
      serializer: 'msgpack',
      retries: 0,
      methods: { chunks: { stream: true } },
    });
    expect(await bin.size(Buffer.alloc(1000, 7))).toBe(1000);
    const got: number[][] = [];
    for await (const chunk of bin.chunks(3)) got.push([...chunk]);
    expect(got).toEqual([[0], [1, 1], [2, 2, 2]]);
  });
});

describe('the tri name and trailers', () => {
  it('serves and calls as `tri` (Dubbo Triple) once the package is listed, version and group in tri-* headers', async () => {
    const p = app('tri-provider', { plugins: ['@plexus/protocol-grpc'], protocols: [{ name: 'tri', host: '127.0.0.1', port: 0 }] });
    p.provide({ interface: 'acc.Calc', version: '2.0.0', group: 'blue' }, { add: (a: number, b: number) => a + b });
    p.provide({ interface: 'acc.Calc', version: '1.0.0' }, { add: (a: number, b: number) => a - b });
    await p.start();
    const port = p.exportedUrls().find((u) => u.protocol === 'tri')!.port;
    const c = app('tri-consumer', { plugins: ['@plexus/protocol-grpc'], protocols: [{ name: 'tri', port: 0 }] });
    await c.start();
    const v2 = c.refer<{ add(a: number, b: number): Promise<number> }>({ interface: 'acc.Calc', version: '2.0.0', group: 'blue', url: `tri://127.0.0.1:${port}`, retries: 0 });
    const v1 = c.refer<{ add(a: number, b: number): Promise<number> }>({ interface: 'acc.Calc', version: '1.0.0', url: `tri://127.0.0.1:${port}`, retries: 0 });
    expect(await v2.add(40, 2)).toBe(42);
    expect(await v1.add(40, 2)).toBe(38);
  });
});

describe('GrpcInvoker (the protocol alone)', () => {
  it("returns the server's trailing metadata as Result.attachments, and relative proto paths resolve against the config's baseDir", async () => {
    const { fakeExtensionContext, fakeInvocation } = await import('@plexus/kernel/testing');
    const { CONFIG, URL } = await import('@plexus/kernel/spi');
    const { GrpcProtocol } = await import('../src');
    const path = await import('node:path');
    const port = await grpcServer({
      SayHello(call: grpc.ServerUnaryCall<{ name: string }, unknown>, cb: grpc.sendUnaryData<unknown>) {
        const trailer = new grpc.Metadata();
        trailer.set('served-by', 'grpc-js');
        cb(null, { message: `Hello ${call.request.name}` }, trailer);
      },
    });
    const json = { id: 1, name: 'json', serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Uint8Array) => JSON.parse(Buffer.from(b).toString()) };
    const protocol = new GrpcProtocol(
      fakeExtensionContext({}, { resolve: () => json, values: new Map<symbol, unknown>([[CONFIG, { baseDir: path.dirname(GREETER_PROTO) }]]) }),
    );
    try {
      const invoker = protocol.refer(new URL('grpc', '127.0.0.1', port, 'helloworld.Greeter', { proto: './greeter.proto' }));
      const result = await invoker.invoke(fakeInvocation({ service: 'helloworld.Greeter', method: 'SayHello', args: [{ name: 'ada' }], deadline: Date.now() + 3000 }));
      expect(result.value).toEqual({ message: 'Hello ada', seen: {} });
      expect(result.attachments).toMatchObject({ 'served-by': 'grpc-js' });
    } finally {
      await protocol.destroy();
    }
  });
});

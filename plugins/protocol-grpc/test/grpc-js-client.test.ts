/**
 * An unmodified grpc-js client (with @grpc/proto-loader) calls a Plexus service served by the
 * grpc protocol over real loopback sockets.
 */
import * as grpc from '@grpc/grpc-js';
import { Plexus } from '@plexus/kernel';
import { cleanup, GREETER_PROTO, greeterClient, provider, sleep, unary } from './support';

afterEach(cleanup);
jest.setTimeout(20_000);

let lastSignal: AbortSignal | undefined;
const greeter = {
  SayHello(req: { name: string; fail: boolean }) {
    if (req.fail) throw Object.assign(new Error(`no greeting for ${req.name}`), { code: grpc.status.NOT_FOUND });
    return { message: `Hello ${req.name}`, seen: { ...Plexus.context().attachments } };
  },
  async SayHelloSlow(req: { delay_ms: string }) {
    lastSignal = Plexus.context().signal;
    await sleep(Number(req.delay_ms));
    return { message: 'late' };
  },
  SayHelloStream() {
    return { message: 'never' };
  },
};

describe('grpc-js client → Plexus grpc provider (unary)', () => {
  it('answers with the reply; metadata arrives in Plexus.context().attachments', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const client = greeterClient(port);
    const md = new grpc.Metadata();
    md.set('tenant', 'blue');
    md.set('trace-bin', Buffer.from([0, 1, 2, 255]));
    const r = await unary(client, 'SayHello', { name: 'ada' }, md);
    expect(r.error).toBeUndefined();
    expect(r.reply.message).toBe('Hello ada');
    expect(r.reply.seen.tenant).toBe('blue');
    expect(Buffer.from(r.reply.seen['trace-bin'], 'base64')).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('a business error arrives with the status the implementation chose and its message', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const r = await unary(greeterClient(port), 'SayHello', { name: 'bob', fail: true });
    expect(r.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(r.error?.details).toBe('no greeting for bob');
    expect(r.error?.metadata.get('plexus-code')).toEqual(['SERVICE_ERROR']);
  });

  it('a deadline becomes DEADLINE_EXCEEDED, and the implementation sees its signal abort', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const started = Date.now();
    const r = await unary(greeterClient(port), 'SayHelloSlow', { delay_ms: 2000 }, new grpc.Metadata(), { deadline: Date.now() + 200 });
    expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(1500);
    await sleep(100);
    expect(lastSignal?.aborted).toBe(true);
  });

  it('an unknown method, a method the implementation lacks and an unknown service are UNIMPLEMENTED', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const client = greeterClient(port);
    const lacking = await unary(client, 'NotImplemented', { name: 'x' });
    expect(lacking.error?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(lacking.error?.details).toMatch(/unknown method NotImplemented/);
    // a raw path the .proto does not declare
    const raw = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest('/helloworld.Greeter/Nope', (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e: grpc.ServiceError | null) => resolve(e)),
    );
    expect(raw?.code).toBe(grpc.status.UNIMPLEMENTED);
    const svc = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest('/other.Service/Call', (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e: grpc.ServiceError | null) => resolve(e)),
    );
    expect(svc?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(svc?.details).toMatch(/unknown service other.Service/);
  });

  it('a .proto server-streaming method whose implementation returns one value is a coded INTERNAL', async () => {
    const { port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const call = greeterClient(port).SayHelloStream({ name: 'x' });
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      call.on('data', () => undefined);
      call.on('error', resolve);
    });
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toMatch(/returns \(stream \.\.\.\)\), but the implementation returned a single value/);
    expect(err.metadata.get('plexus-reason')).toEqual(['PLEXUS_ERR_GRPC_STREAMING']);
  });

  it('while the provider stops, a call in flight finishes and new calls get UNAVAILABLE', async () => {
    const { app, port } = await provider('helloworld.Greeter', greeter, { proto: GREETER_PROTO });
    const client = greeterClient(port);
    await unary(client, 'SayHello', { name: 'warm' });
    const inflight = unary(client, 'SayHelloSlow', { delay_ms: 400 });
    await sleep(50);
    const stopping = app.stop();
    await sleep(50);
    const late = await unary(client, 'SayHello', { name: 'late' });
    expect(late.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect((await inflight).reply?.message).toBe('late');
    await stopping;
  });
});

/**
 * The http protocol's consumer side: references with `url: http://host:port` against a real
 * http provider on 127.0.0.1 — results, coded errors mapped back from the JSON body, the deadline
 * carried in `plexus-timeout` and the kernel's cancel aborting the request.
 */
import * as http from 'node:http';
import { Plexus } from '@plexus/kernel';
import { RpcCode, URL } from '@plexus/kernel/spi';
import { fakeExtensionContext, fakeInvocation } from '@plexus/kernel/testing';
import { HttpProtocol } from '../src/http-protocol';
import { JsonSerializer } from '@plexus/serializer-json';
import { app, provider, sleep, stopApps } from './support';

afterEach(stopApps);

interface Acc {
  add(a: number, b: number): Promise<number>;
  boom(): Promise<never>;
  watch(ms: number): Promise<string>;
  ctx(): Promise<Record<string, string>>;
}

let aborted: unknown[] = [];
const impl = {
  add: (a: number, b: number) => a + b,
  boom: () => {
    throw new Error('out of stock');
  },
  ctx: () => ({ ...Plexus.context().attachments, timeout: String(Plexus.context().deadline > 0) }),
  tagged: (v: string) => {
    Plexus.context().responseAttachments.region = 'eu west';
    return v;
  },
  watch: (ms: number) =>
    new Promise((resolve) => {
      const signal = Plexus.context().signal;
      const timer = setTimeout(() => resolve('done'), ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        aborted.push((signal.reason as { code?: string })?.code);
        resolve('aborted');
      });
    }),
};

async function consumer(port: number, ref: Record<string, unknown> = {}): Promise<Acc> {
  const c = app('http-consumer', { references: { acc: { interface: 'acc.Echo', version: '1.0.0', url: `http://127.0.0.1:${port}`, retries: 0, timeout: 2000, check: false, ...ref } } });
  await c.start();
  return c.reference<Acc>('acc');
}

describe('http client', () => {
  beforeEach(() => (aborted = []));

  it('hands the provider\'s response attachments to the consumer chain as Result.attachments', async () => {
    const { port } = await provider('acc.Echo', impl, { version: '1.0.0' });
    const protocol = new HttpProtocol(fakeExtensionContext({}, { resolve: () => new JsonSerializer() }));
    try {
      const invoker = protocol.refer(new URL('http', '127.0.0.1', port, 'acc.Echo', { version: '1.0.0' }));
      const tagged = await invoker.invoke(fakeInvocation({ service: 'acc.Echo', version: '1.0.0', method: 'tagged', args: ['v'], settings: { timeout: 2000 } }));
      expect(tagged).toEqual({ value: 'v', attachments: { region: 'eu west' } });
      const plain = await invoker.invoke(fakeInvocation({ service: 'acc.Echo', version: '1.0.0', method: 'add', args: [1, 2], settings: { timeout: 2000 } }));
      expect(plain).toEqual({ value: 3 });
    } finally {
      await protocol.destroy();
    }
  });

  it('calls through a reference with url: http://, attachments and version ride in headers', async () => {
    const { port } = await provider('acc.Echo', impl, { version: '1.0.0' });
    const acc = await consumer(port);
    expect(await acc.add(40, 2)).toBe(42);
    const ctx = await Plexus.withAttachments({ tenant: 'blue é' }, () => acc.ctx());
    expect(ctx).toMatchObject({ tenant: 'blue é', timeout: 'true' });
    // a value with no UTF-8 form is refused before it leaves, with a code
    await expect(Plexus.withAttachments({ bad: '\ud800' }, () => acc.ctx())).rejects.toMatchObject({ code: RpcCode.BAD_REQUEST, reason: 'PLEXUS_ERR_HTTP_BAD_HEADER' });
  });

  it('maps coded JSON errors back: business error, unknown method, unknown service', async () => {
    const { port } = await provider('acc.Echo', impl, { version: '1.0.0' });
    const acc = await consumer(port);
    await expect(acc.boom()).rejects.toMatchObject({ code: RpcCode.SERVICE_ERROR, message: 'out of stock', remote: `127.0.0.1:${port}` });
    const c = app('generic-consumer');
    await expect(c.generic('acc.Echo', { version: '1.0.0', url: `http://127.0.0.1:${port}` } as never).$invoke('nope', [])).rejects.toMatchObject({
      code: RpcCode.METHOD_NOT_FOUND,
    });
    const wrong = await consumer(port, { version: '9.9.9' });
    await expect(wrong.add(1, 2)).rejects.toMatchObject({ code: RpcCode.SERVICE_NOT_FOUND, reason: 'PLEXUS_ERR_HTTP_SERVICE_NOT_FOUND' });
  });

  it("the consumer's deadline ends the call (TIMEOUT) and the provider's call is cancelled", async () => {
    const { port } = await provider('acc.Echo', impl, { version: '1.0.0' });
    const acc = await consumer(port, { timeout: 150 });
    const started = Date.now();
    await expect(acc.watch(3000)).rejects.toMatchObject({ code: RpcCode.TIMEOUT });
    expect(Date.now() - started).toBeLessThan(1000);
    await sleep(300);
    // aborted by the provider's own watch of plexus-timeout, or by the dropped connection
    expect(aborted).toHaveLength(1);
  });

  it("a caller's abort signal aborts the request", async () => {
    const { port } = await provider('acc.Echo', impl, { version: '1.0.0' });
    const acc = await consumer(port);
    const ac = new AbortController();
    const call = Plexus.withCallOptions({ signal: ac.signal }, () => acc.watch(3000));
    await sleep(100);
    ac.abort();
    await expect(call).rejects.toMatchObject({ code: RpcCode.CANCELLED });
    await sleep(200);
    expect(aborted).toEqual([RpcCode.NETWORK]);
  });

  it('an unreachable provider is a coded, retryable NETWORK error', async () => {
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const acc = await consumer(port);
    await expect(acc.add(1, 2)).rejects.toMatchObject({ code: RpcCode.NETWORK, reason: 'PLEXUS_ERR_HTTP_CONNECT', retryable: true });
  });

  it('a non-Plexus answer becomes a coded error from its status', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'text/html' });
      res.end('<h1>slow down</h1>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const acc = await consumer((server.address() as { port: number }).port);
      await expect(acc.add(1, 2)).rejects.toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: 'PLEXUS_ERR_HTTP_BAD_RESPONSE' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('an answer over payload is refused without being read whole', async () => {
    const { port } = await provider('acc.Echo', { ...impl, big: (n: number) => 'x'.repeat(n) }, { version: '1.0.0' });
    const c = app('small-consumer', { protocols: [{ name: 'http', payload: 2048 }], references: { acc: { interface: 'acc.Echo', version: '1.0.0', url: `http://127.0.0.1:${port}`, retries: 0 } } });
    await c.start();
    expect(await c.reference<{ big(n: number): Promise<string> }>('acc').big(10)).toBe('x'.repeat(10));
    await expect(c.reference<{ big(n: number): Promise<string> }>('acc').big(5000)).rejects.toMatchObject({ code: RpcCode.PAYLOAD_TOO_LARGE });
  });
});

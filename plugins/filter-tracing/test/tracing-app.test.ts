/**
 * `filter: [tracing]` inside real applications, over the plexus protocol on 127.0.0.1, with the
 * official OpenTelemetry SDK (BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter,
 * AsyncLocalStorageContextManager) registered as an application would. The filter is found by its
 * conventional package name, `@plexus/filter-tracing`.
 */
import * as net from 'node:net';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { Plexus } from '@plexus/kernel';
import { RpcCode } from '@plexus/kernel/spi';
import { rejectionOf, waitFor } from '@plexus/kernel/testing';
import { installSdk, isChildOf, type TestSdk } from './support/otel';

interface Back {
  echo(s: string): Promise<string>;
  fail(): Promise<void>;
  slow(ms: number): Promise<string>;
  bag(key: string): Promise<string | null>;
  attachments(): Promise<Record<string, string>>;
}
interface Front {
  relay(s: string): Promise<string>;
  relayBag(key: string): Promise<string | null>;
}

let sdk: TestSdk;
const apps: Plexus[] = [];
let logged = '';
const realWrite = process.stderr.write.bind(process.stderr);

beforeAll(() => {
  sdk = installSdk();
});
afterAll(async () => {
  await sdk.uninstall();
});
beforeEach(() => {
  logged = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logged += chunk.toString();
    return typeof rest[rest.length - 1] === 'function' ? (rest[rest.length - 1] as () => void)() ?? true : true;
  }) as typeof process.stderr.write;
});
afterEach(async () => {
  for (const app of apps.splice(0).reverse()) await app.stop();
  process.stderr.write = realWrite;
  propagation.disable();
  sdk.exporter.reset();
});

const backImpl = {
  echo: (s: string) => s,
  fail: () => {
    throw Object.assign(new Error('out of stock'), { code: 'E42' });
  },
  slow: (ms: number) => new Promise<string>((resolve) => setTimeout(() => resolve('late'), ms)),
  bag: (key: string) => propagation.getBaggage(context.active())?.getEntry(key)?.value ?? null,
  attachments: () => ({ ...Plexus.context().attachments }),
};

/** A port free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function create(name: string, extra: Record<string, unknown> = {}): Plexus {
  const a = Plexus.create({ logLevel: 'warn', application: { name }, protocol: { name: 'plexus', host: '127.0.0.1', port: 0 }, ...extra });
  apps.push(a);
  return a;
}

async function provide(name: string, iface: string, impl: object, extra: Record<string, unknown> = {}): Promise<{ app: Plexus; port: number }> {
  const app = create(name, { provider: { filter: ['tracing'], timeout: 5000 }, ...extra });
  app.provide({ interface: iface, version: '1.0.0' }, impl);
  await app.start();
  const url = app.exportedUrls().find((u) => u.protocol === 'plexus')!;
  return { app, port: url.port };
}

async function refer<T>(iface: string, port: number, reference: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<T> {
  const app = create('tracing-consumer', { references: { r: { interface: iface, version: '1.0.0', url: `plexus://127.0.0.1:${port}`, timeout: 3000, retries: 0, filter: ['tracing'], ...reference } }, ...extra });
  await app.start();
  return app.reference<T>('r');
}

/** A Front provider whose methods call Back through a traced reference. */
async function frontOf(backPort: number, provider: Record<string, unknown> = {}): Promise<number> {
  const app = create('tracing-front', {
    provider: { filter: ['tracing'], timeout: 5000, ...provider },
    references: { back: { interface: 'trace.Back', version: '1.0.0', url: `plexus://127.0.0.1:${backPort}`, timeout: 3000, retries: 0, filter: ['tracing'] } },
  });
  let back: Back | undefined;
  app.provide(
    { interface: 'trace.Front', version: '1.0.0' },
    {
      relay: async (s: string) => `front:${await back!.echo(s)}`,
      relayBag: (key: string) => back!.bag(key),
    },
  );
  await app.start();
  back = app.reference<Back>('back');
  return app.exportedUrls().find((u) => u.protocol === 'plexus')!.port;
}

describe('tracing filter', () => {
  it('a CLIENT span on the consumer and a SERVER span on the provider: one trace, parent and child, with the §11 names and attributes', async () => {
    // The SERVER span knows the provider's port from its config: a fixed one here (see the README).
    const { port } = await provide('tracing-back', 'trace.Back', backImpl, { protocol: { name: 'plexus', host: '127.0.0.1', port: await freePort() } });
    const back = await refer<Back>('trace.Back', port);
    await expect(back.echo('ada')).resolves.toBe('ada');
    // Only the calls of the application are traced: the start check's $echo is not.
    expect(sdk.spans().filter((s) => s.name.endsWith('$echo'))).toEqual([]);
    await waitFor(() => sdk.spans('trace.Back/echo').length === 2, 3000, 'two spans');
    const client = sdk.spans('trace.Back/echo').find((s) => s.kind === SpanKind.CLIENT)!;
    const server = sdk.spans('trace.Back/echo').find((s) => s.kind === SpanKind.SERVER)!;
    expect(client).toBeDefined();
    expect(server).toBeDefined();
    expect(client.parentSpanContext).toBeUndefined();
    expect(isChildOf(server, client)).toBe(true);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    for (const s of [client, server]) {
      expect(s.attributes).toMatchObject({
        'rpc.system': 'plexus',
        'rpc.service': 'trace.Back',
        'rpc.method': 'echo',
        'server.address': '127.0.0.1',
        'server.port': port,
        'rpc.plexus.version': '1.0.0',
      });
      expect(s.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(s.instrumentationScope.name).toBe('@plexus/filter-tracing');
    }
    expect(server.attributes['network.peer.address']).toBe('127.0.0.1');
    expect(server.attributes['network.peer.port']).toEqual(expect.any(Number));
  });

  it('the SERVER span is the active span inside the provider method', async () => {
    const impl = { ...backImpl, activeSpan: () => trace.getActiveSpan()?.spanContext().spanId ?? null };
    const { port } = await provide('tracing-back', 'trace.Back', impl);
    const back = await refer<Back & { activeSpan(): Promise<string | null> }>('trace.Back', port);
    const seen = await back.activeSpan();
    await waitFor(() => sdk.spans('trace.Back/activeSpan').length === 2, 3000, 'two spans');
    const server = sdk.spans('trace.Back/activeSpan').find((s) => s.kind === SpanKind.SERVER)!;
    expect(seen).toBe(server.spanContext().spanId);
  });

  it('the CLIENT span is a child of the span active around the call, and its sampled flag crosses', async () => {
    const { port } = await provide('tracing-back', 'trace.Back', backImpl);
    const back = await refer<Back>('trace.Back', port);
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('checkout', async (outer) => {
      await back.echo('x');
      outer.end();
    });
    await waitFor(() => sdk.spans().length === 3, 3000, 'three spans');
    const outer = sdk.spans('checkout')[0]!;
    const client = sdk.spans('trace.Back/echo').find((s) => s.kind === SpanKind.CLIENT)!;
    const server = sdk.spans('trace.Back/echo').find((s) => s.kind === SpanKind.SERVER)!;
    expect(isChildOf(client, outer)).toBe(true);
    expect(isChildOf(server, client)).toBe(true);
    expect(server.spanContext().traceFlags & 1).toBe(1);
  });

  it('a call the provider method makes continues the trace (four spans, one chain)', async () => {
    const { port: backPort } = await provide('tracing-back', 'trace.Back', backImpl);
    const front = await refer<Front>('trace.Front', await frontOf(backPort));
    await expect(front.relay('z')).resolves.toBe('front:z');
    await waitFor(() => sdk.spans().length === 4, 3000, 'four spans');
    const of = (name: string, kind: SpanKind) => sdk.spans(name).find((s) => s.kind === kind)!;
    const c1 = of('trace.Front/relay', SpanKind.CLIENT);
    const s1 = of('trace.Front/relay', SpanKind.SERVER);
    const c2 = of('trace.Back/echo', SpanKind.CLIENT);
    const s2 = of('trace.Back/echo', SpanKind.SERVER);
    expect(isChildOf(s1, c1)).toBe(true);
    expect(isChildOf(c2, s1)).toBe(true);
    expect(isChildOf(s2, c2)).toBe(true);
    expect(c2.attributes['server.port']).toBe(backPort);
  });

  it('nested calls keep their own parent when a limited executor queues calls (no context leaks between calls)', async () => {
    const { port: backPort } = await provide('tracing-back', 'trace.Back', { ...backImpl, echo: (s: string) => new Promise((r) => setTimeout(() => r(s), 5)) });
    const front = await refer<Front>('trace.Front', await frontOf(backPort, { executor: 'limited', threads: 1, queues: 20 }));
    const tracer = trace.getTracer('test');
    const N = 8;
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        tracer.startActiveSpan(`root-${i}`, { root: true }, async (root) => {
          await front.relay(String(i));
          root.end();
        }),
      ),
    );
    await waitFor(() => sdk.spans().length === N * 5, 5000, `${N * 5} spans`);
    for (let i = 0; i < N; i++) {
      const traceId = sdk.spans(`root-${i}`)[0]!.spanContext().traceId;
      const inTrace = sdk.spans().filter((s) => s.spanContext().traceId === traceId);
      expect(inTrace.map((s) => s.name).sort()).toEqual([`root-${i}`, 'trace.Back/echo', 'trace.Back/echo', 'trace.Front/relay', 'trace.Front/relay']);
      const s1 = inTrace.find((s) => s.name === 'trace.Front/relay' && s.kind === SpanKind.SERVER)!;
      const c2 = inTrace.find((s) => s.name === 'trace.Back/echo' && s.kind === SpanKind.CLIENT)!;
      expect(isChildOf(c2, s1)).toBe(true);
    }
  });

  it('a failure sets ERROR status with the code on both spans and records the exception', async () => {
    const { port } = await provide('tracing-back', 'trace.Back', backImpl);
    const back = await refer<Back>('trace.Back', port);
    const err = await rejectionOf(back.fail());
    expect(err).toMatchObject({ code: RpcCode.SERVICE_ERROR });
    await waitFor(() => sdk.spans('trace.Back/fail').length === 2, 3000, 'two spans');
    for (const s of sdk.spans('trace.Back/fail')) {
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.status.message).toContain('out of stock');
      expect(s.attributes['rpc.plexus.code']).toBe(RpcCode.SERVICE_ERROR);
      expect(s.attributes['error.type']).toBe(RpcCode.SERVICE_ERROR);
      const ev = s.events.find((e) => e.name === 'exception');
      expect(ev?.attributes?.['exception.message']).toContain('out of stock');
    }
  });

  it('a timed-out call: the CLIENT span ends with TIMEOUT, the SERVER span ends at the cancel, before the method returns', async () => {
    const { port } = await provide('tracing-back', 'trace.Back', backImpl);
    const back = await refer<Back>('trace.Back', port, { timeout: 150 });
    const started = Date.now();
    await expect(back.slow(2000)).rejects.toMatchObject({ code: RpcCode.TIMEOUT });
    await waitFor(() => sdk.spans('trace.Back/slow').length === 2, 2000, 'both spans ended');
    expect(Date.now() - started).toBeLessThan(1500);
    const client = sdk.spans('trace.Back/slow').find((s) => s.kind === SpanKind.CLIENT)!;
    const server = sdk.spans('trace.Back/slow').find((s) => s.kind === SpanKind.SERVER)!;
    expect(client.attributes['rpc.plexus.code']).toBe(RpcCode.TIMEOUT);
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes['rpc.plexus.code']).toEqual(expect.any(String));
  });

  it('baggage reaches the provider method and travels on through its nested call', async () => {
    const { port: backPort } = await provide('tracing-back', 'trace.Back', backImpl);
    const back = await refer<Back>('trace.Back', backPort);
    const front = await refer<Front>('trace.Front', await frontOf(backPort));
    const withBag = propagation.setBaggage(context.active(), propagation.createBaggage({ tenant: { value: 'acme, inc.' }, 'user id': { value: 'ü42' } }));
    await context.with(withBag, async () => {
      await expect(back.bag('tenant')).resolves.toBe('acme, inc.');
      await expect(back.bag('user id')).resolves.toBe('ü42');
      await expect(front.relayBag('tenant')).resolves.toBe('acme, inc.');
    });
    await expect(back.bag('tenant')).resolves.toBeNull();
  });

  it('the W3C fallback writes traceparent (and baggage) attachments when no propagator is registered', async () => {
    const { port } = await provide('tracing-back', 'trace.Back', backImpl);
    const back = await refer<Back>('trace.Back', port);
    const withBag = propagation.setBaggage(context.active(), propagation.createBaggage({ k: { value: 'v' } }));
    const seen = await context.with(withBag, () => back.attachments());
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(seen.baggage).toBe('k=v');
    await waitFor(() => sdk.spans('trace.Back/attachments').length === 2, 3000, 'two spans');
    const client = sdk.spans('trace.Back/attachments').find((s) => s.kind === SpanKind.CLIENT)!;
    expect(seen.traceparent).toBe(`00-${client.spanContext().traceId}-${client.spanContext().spanId}-01`);
  });

  it('a propagator the application registered is used instead of the W3C fallback, on both sides', async () => {
    const KEY = 'x-test-ctx';
    propagation.setGlobalPropagator({
      inject(ctx: Context, carrier: unknown, setter: TextMapSetter) {
        const sc = trace.getSpanContext(ctx);
        if (sc) setter.set(carrier, KEY, `${sc.traceId}.${sc.spanId}`);
      },
      extract(ctx: Context, carrier: unknown, getter: TextMapGetter) {
        const raw = getter.get(carrier, KEY);
        if (typeof raw !== 'string') return ctx;
        const [traceId, spanId] = raw.split('.');
        return trace.setSpanContext(ctx, { traceId: traceId!, spanId: spanId!, traceFlags: 1, isRemote: true });
      },
      fields: () => [KEY],
    });
    const { port } = await provide('tracing-back', 'trace.Back', backImpl);
    const back = await refer<Back>('trace.Back', port);
    const seen = await back.attachments();
    expect(seen.traceparent).toBeUndefined();
    expect(seen[KEY]).toMatch(/^[0-9a-f]{32}\.[0-9a-f]{16}$/);
    await waitFor(() => sdk.spans('trace.Back/attachments').length === 2, 3000, 'two spans');
    const client = sdk.spans('trace.Back/attachments').find((s) => s.kind === SpanKind.CLIENT)!;
    const server = sdk.spans('trace.Back/attachments').find((s) => s.kind === SpanKind.SERVER)!;
    expect(isChildOf(server, client)).toBe(true);
  });

  it('without filter: [tracing] no span is made and no attachment is added', async () => {
    const app = create('tracing-plain', {});
    app.provide({ interface: 'trace.Back', version: '1.0.0' }, backImpl);
    await app.start();
    const port = app.exportedUrls().find((u) => u.protocol === 'plexus')!.port;
    const back = await refer<Back>('trace.Back', port, { filter: [] });
    await expect(back.attachments()).resolves.toEqual({});
    await new Promise((r) => setTimeout(r, 50));
    expect(sdk.spans()).toEqual([]);
  });
});

describe('tracing filter, hostile callers', () => {
  /** A caller without the filter, sending whatever attachments it likes. */
  async function rawCaller(port: number): Promise<Back> {
    return refer<Back>('trace.Back', port, { filter: [] });
  }

  it.each([
    ['garbage', 'not-a-traceparent'],
    ['all-zero trace id', '00-00000000000000000000000000000000-0123456789abcdef-01'],
    ['version ff', 'ff-0123456789abcdef0123456789abcdef-0123456789abcdef-01'],
    ['upper-case hex', '00-0123456789ABCDEF0123456789ABCDEF-0123456789abcdef-01'],
    ['version 00 with a tail', '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01-extra'],
    ['oversized', `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01${'-x'.repeat(100_000)}`],
  ])('a %s traceparent is ignored: the SERVER span is a new root, the call succeeds, a coded warning is logged', async (_what, value) => {
    const { port } = await provide('tracing-back', 'trace.Back', backImpl);
    const caller = await rawCaller(port);
    await expect(Plexus.withAttachments({ traceparent: value, tracestate: 'a=b' }, () => caller.echo('ok'))).resolves.toBe('ok');
    await waitFor(() => sdk.spans('trace.Back/echo').length === 1, 3000, 'the SERVER span');
    const server = sdk.spans('trace.Back/echo')[0]!;
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.parentSpanContext).toBeUndefined();
    expect(logged).toContain('PLEXUS_ERR_TRACING_BAD_CONTEXT');
  });

  it('a future-version traceparent is read by its first four fields, as W3C asks', async () => {
    const { port } = await provide('tracing-back', 'trace.Back', backImpl);
    const caller = await rawCaller(port);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    await Plexus.withAttachments({ traceparent: `01-${traceId}-b7ad6b7169203331-01-what-comes-next` }, () => caller.echo('ok'));
    await waitFor(() => sdk.spans('trace.Back/echo').length === 1, 3000, 'the SERVER span');
    expect(sdk.spans('trace.Back/echo')[0]!.spanContext().traceId).toBe(traceId);
    expect(logged).not.toContain('PLEXUS_ERR_TRACING_BAD_CONTEXT');
  });

  it('oversized or malformed baggage is dropped (members by member), never thrown', async () => {
    const { port } = await provide('tracing-back', 'trace.Back', backImpl);
    const caller = await rawCaller(port);
    await expect(Plexus.withAttachments({ baggage: `k=${'v'.repeat(9000)}` }, () => caller.bag('k'))).resolves.toBeNull();
    await expect(Plexus.withAttachments({ baggage: 'ok=1,%E0%A4%A=bad,=nokey,novalue,good=%F0%9F%98%80' }, () => caller.bag('good'))).resolves.toBe('😀');
    await expect(Plexus.withAttachments({ baggage: 'ok=1,%E0%A4%A=bad' }, () => caller.bag('ok'))).resolves.toBe('1');
    const many = Array.from({ length: 400 }, (_, i) => `k${i}=${i}`).join(',');
    await expect(Plexus.withAttachments({ baggage: many }, () => caller.bag('k179'))).resolves.toBe('179');
    await expect(Plexus.withAttachments({ baggage: many }, () => caller.bag('k180'))).resolves.toBeNull();
    expect(logged).toContain('PLEXUS_ERR_TRACING_BAD_CONTEXT');
  });

  it('extensions.filter.tracing.maxValueLength: a longer value is ignored before any propagator reads it', async () => {
    const bag = `k=${'v'.repeat(200)}`;
    const def = await provide('tracing-back', 'trace.Back', backImpl);
    await expect(Plexus.withAttachments({ baggage: bag }, async () => (await rawCaller(def.port)).bag('k'))).resolves.toBe('v'.repeat(200));
    const small = await provide('tracing-back-small', 'trace.Back', backImpl, { extensions: { filter: { tracing: { maxValueLength: 100 } } } });
    await expect(Plexus.withAttachments({ baggage: bag }, async () => (await rawCaller(small.port)).bag('k'))).resolves.toBeNull();
    expect(logged).toMatch(/over maxValueLength 100[\s\S]*PLEXUS_ERR_TRACING_BAD_CONTEXT/);
  });

  it('warnings are rate-limited by warnEveryMs, with a count (default 10 s: one line for many bad calls; 0: one per call)', async () => {
    const count = () => logged.split('PLEXUS_ERR_TRACING_BAD_CONTEXT').length - 1;
    const quiet = await provide('tracing-back', 'trace.Back', backImpl);
    const q = await rawCaller(quiet.port);
    for (let i = 0; i < 5; i++) await Plexus.withAttachments({ traceparent: 'bad' }, () => q.echo('x'));
    expect(count()).toBe(1);
    logged = '';
    const loud = await provide('tracing-back-loud', 'trace.Back', backImpl, { extensions: { filter: { tracing: { warnEveryMs: 0 } } } });
    const l = await rawCaller(loud.port);
    for (let i = 0; i < 5; i++) await Plexus.withAttachments({ traceparent: 'bad' }, () => l.echo('x'));
    expect(count()).toBe(5);
    expect(logged).toContain('ignored 1 unusable trace context header');
  });

  it('an unknown option of extensions.filter.tracing fails start()', async () => {
    const app = create('tracing-bad-option', { provider: { filter: ['tracing'] }, extensions: { filter: { tracing: { maxValueLenght: 10 } } } });
    app.provide({ interface: 'trace.Back', version: '1.0.0' }, backImpl);
    const err = await rejectionOf(app.start());
    expect(String((err as Error).message)).toContain('maxValueLenght');
  });
});

/**
 * `filter: [metrics]` inside real applications, over the plexus protocol on 127.0.0.1 with the
 * in-memory registry: the provider counts what it served, the consumer what it called, both into
 * a registry given from code; the consumer's plexus_providers follows providers joining and
 * leaving. The filter is found by its conventional package name (@plexus/filter-metrics).
 */
import { Plexus } from '@plexus/kernel';
import { RpcCode } from '@plexus/kernel/spi';
import { MemoryRegistry, memoryRegistryPlugin } from '@plexus/kernel/testing';
import { Registry } from 'prom-client';

const IFACE = 'metrics.Greeter';
const KEY = `${IFACE}:1.0.0`;

interface Greeter {
  hello(who: string): Promise<string>;
  fail(): Promise<never>;
  undeclared(): Promise<unknown>;
}

const apps: Plexus[] = [];
const namespaces: string[] = [];
afterEach(async () => {
  for (const app of apps.splice(0).reverse()) await app.stop();
  for (const ns of namespaces.splice(0)) MemoryRegistry.reset(ns);
});

function app(name: string, namespace: string, registry: Registry, extra: Record<string, unknown>): Plexus {
  const a = Plexus.create({
    logLevel: 'silent',
    application: { name },
    registry: { type: 'memory', namespace },
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    extensions: { filter: { metrics: { registry } } },
    ...extra,
  } as never);
  a.use(memoryRegistryPlugin);
  apps.push(a);
  return a;
}

async function provider(namespace: string, registry: Registry): Promise<Plexus> {
  const p = app('metrics-provider', namespace, registry, { provider: { filter: ['metrics'] } });
  p.provide(
    { interface: IFACE, version: '1.0.0' },
    {
      hello: (who: string) => `hello ${who}`,
      fail: () => {
        throw new Error('business says no');
      },
    },
  );
  await p.start();
  return p;
}

function sample(json: Awaited<ReturnType<Registry['getMetricsAsJSON']>>, name: string, labels: Record<string, string>, metricName = name): number | undefined {
  const m = json.find((x) => x.name === name);
  const v = m?.values.find((s) => ((s as { metricName?: string }).metricName ?? name) === metricName && Object.entries(labels).every(([k, l]) => String(s.labels[k]) === l));
  return v?.value;
}

async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms in vain for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('filter: [metrics] in an application', () => {
  it('counts on both sides, per method and code, with the duration histogram', async () => {
    namespaces.push('metrics-both');
    const providerRegistry = new Registry();
    const consumerRegistry = new Registry();
    await provider('metrics-both', providerRegistry);
    const c = app('metrics-consumer', 'metrics-both', consumerRegistry, {
      references: { g: { interface: IFACE, version: '1.0.0', retries: 0, timeout: 3000, filter: ['metrics'] } },
    });
    await c.start();
    const g = c.reference<Greeter>('g');
    for (let i = 0; i < 5; i++) await expect(g.hello('ada')).resolves.toBe('hello ada');
    await expect(g.fail()).rejects.toMatchObject({ code: RpcCode.SERVICE_ERROR });
    await expect(g.undeclared()).rejects.toMatchObject({ code: RpcCode.METHOD_NOT_FOUND });

    const consumer = await consumerRegistry.getMetricsAsJSON();
    expect(sample(consumer, 'plexus_requests_total', { side: 'consumer', service: KEY, method: 'hello', code: 'OK' })).toBe(5);
    expect(sample(consumer, 'plexus_requests_total', { side: 'consumer', service: KEY, method: 'fail', code: 'SERVICE_ERROR' })).toBe(1);
    // The provider lists hello and fail in its URL: anything else is folded.
    expect(sample(consumer, 'plexus_requests_total', { side: 'consumer', service: KEY, method: 'other', code: 'METHOD_NOT_FOUND' })).toBe(1);
    expect(sample(consumer, 'plexus_request_duration_seconds', { side: 'consumer', method: 'hello', code: 'OK', le: '+Inf' }, 'plexus_request_duration_seconds_bucket')).toBe(5);
    expect(sample(consumer, 'plexus_requests_in_flight', { side: 'consumer', method: 'hello' })).toBe(0);
    expect(sample(consumer, 'plexus_providers', { service: KEY })).toBe(1);
    // The consumer's registry holds no provider side, and the reverse.
    expect(sample(consumer, 'plexus_requests_total', { side: 'provider' })).toBeUndefined();

    const served = await providerRegistry.getMetricsAsJSON();
    expect(sample(served, 'plexus_requests_total', { side: 'provider', service: KEY, method: 'hello', code: 'OK' })).toBe(5);
    expect(sample(served, 'plexus_requests_total', { side: 'provider', service: KEY, method: 'fail', code: 'SERVICE_ERROR' })).toBe(1);
    // A method the service does not have never reaches provider filters.
    expect(sample(served, 'plexus_requests_total', { side: 'provider', method: 'undeclared' })).toBeUndefined();
    expect(sample(served, 'plexus_requests_total', { side: 'consumer' })).toBeUndefined();
    expect(sample(served, 'plexus_request_duration_seconds', { side: 'provider', method: 'hello', code: 'OK' }, 'plexus_request_duration_seconds_count')).toBe(5);
  });

  it('plexus_providers follows a second provider joining and leaving', async () => {
    namespaces.push('metrics-providers');
    const registry = new Registry();
    await provider('metrics-providers', new Registry());
    const c = app('metrics-consumer', 'metrics-providers', registry, {
      references: { g: { interface: IFACE, version: '1.0.0', retries: 0, timeout: 3000, filter: ['metrics'] } },
    });
    await c.start();
    await c.reference<Greeter>('g').hello('x');
    const providers = async () => sample(await registry.getMetricsAsJSON(), 'plexus_providers', { service: KEY });
    expect(await providers()).toBe(1);
    const second = await provider('metrics-providers', new Registry());
    await until('two providers', async () => (await providers()) === 2);
    await second.stop();
    await until('one provider again', async () => (await providers()) === 1);
  });

  it('without filter: [metrics] nothing is counted (not on by default)', async () => {
    namespaces.push('metrics-off');
    const registry = new Registry();
    const p = app('metrics-provider', 'metrics-off', registry, {});
    p.provide({ interface: IFACE, version: '1.0.0' }, { hello: (who: string) => `hello ${who}` });
    await p.start();
    const c = app('metrics-consumer', 'metrics-off', registry, { references: { g: { interface: IFACE, version: '1.0.0', retries: 0, timeout: 3000 } } });
    await c.start();
    await c.reference<Greeter>('g').hello('x');
    expect(sample(await registry.getMetricsAsJSON(), 'plexus_requests_total', {})).toBeUndefined();
  });

  it('a bad option fails start() naming the key', async () => {
    namespaces.push('metrics-bad');
    const c = app('metrics-consumer', 'metrics-bad', new Registry(), {
      extensions: { filter: { metrics: { undeclaredMethods: -1 } } },
      references: { g: { interface: IFACE, version: '1.0.0', check: false, filter: ['metrics'] } },
    });
    await expect(c.start()).rejects.toThrow(/undeclaredMethods/);
  });
});

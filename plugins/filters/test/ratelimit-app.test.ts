/**
 * `tps` inside real applications over the plexus protocol on 127.0.0.1: a reference's own limit
 * refuses before the call leaves (the provider never sees it), a service's limit refuses on the
 * provider, and each carries its code.
 */
import { Plexus } from '@plexus/kernel';
import { RpcCode } from '@plexus/kernel/spi';
import { RATE_LIMITED_REASON } from '../src/ratelimit-errors';

interface Counter {
  hit(): Promise<number>;
}

const apps: Plexus[] = [];
afterEach(async () => {
  for (const app of apps.splice(0).reverse()) await app.stop();
});

function app(name: string, extra: Record<string, unknown> = {}): Plexus {
  const a = Plexus.create({ logLevel: 'silent', application: { name }, registry: 'none', protocol: { name: 'plexus', host: '127.0.0.1', port: 0 }, ...extra });
  apps.push(a);
  return a;
}

async function setup(service: Record<string, unknown>, reference: Record<string, unknown>) {
  let served = 0;
  const p = app('counter-provider');
  p.provide({ interface: 'rl.Counter', ...service }, { hit: () => ++served });
  await p.start();
  const port = p.exportedUrls()[0].port;
  const c = app('counter-consumer', { references: { counter: { interface: 'rl.Counter', url: `plexus://127.0.0.1:${port}`, retries: 0, ...reference } } });
  await c.start();
  return { counter: c.reference<Counter>('counter'), served: () => served };
}

const settle = (calls: Promise<unknown>[]) => Promise.all(calls.map((p) => p.then(() => 'ok', (e: { code: string; reason?: string; retryable: boolean }) => e)));

describe('ratelimit in an application', () => {
  it("a reference's tps refuses on the consumer, not retryable, and the provider never sees those calls", async () => {
    const { counter, served } = await setup({}, { tps: { rate: 2, burst: 2 } });
    const outcomes = await settle(Array.from({ length: 5 }, () => counter.hit()));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(2);
    for (const o of outcomes.filter((x) => x !== 'ok')) expect(o).toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: RATE_LIMITED_REASON, retryable: false });
    expect(served()).toBe(2);
  });

  it("a service's tps refuses on the provider with its code", async () => {
    const { counter, served } = await setup({ tps: { rate: 3, burst: 3 } }, {});
    const outcomes = await settle(Array.from({ length: 6 }, () => counter.hit()));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(3);
    for (const o of outcomes.filter((x) => x !== 'ok')) expect(o).toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: RATE_LIMITED_REASON });
    expect(served()).toBe(3);
  });

  it('a method may opt out of its service limit with tps: 0', async () => {
    let free = 0;
    const p = app('opt-out-provider');
    p.provide({ interface: 'rl.Two', tps: 1, methods: { free: { tps: 0 } } }, { limited: () => 1, free: () => ++free });
    await p.start();
    const c = app('opt-out-consumer', { references: { two: { interface: 'rl.Two', url: `plexus://127.0.0.1:${p.exportedUrls()[0].port}`, retries: 0 } } });
    await c.start();
    const two = c.reference<{ limited(): Promise<number>; free(): Promise<number> }>('two');
    expect(await settle([two.limited(), two.limited()])).toEqual(['ok', expect.objectContaining({ code: RpcCode.LIMIT_EXCEEDED })]);
    expect(await settle(Array.from({ length: 10 }, () => two.free()))).toEqual(Array(10).fill('ok'));
  });
});

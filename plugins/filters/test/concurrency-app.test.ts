/**
 * `actives` and `executes` inside real applications over the plexus protocol on 127.0.0.1: the
 * kernel's deadline and the filter's wait agree (a call that found no slot says so, instead of a
 * bare TIMEOUT), and unusable values in the config fail `start()`.
 */
import { Plexus } from '@plexus/kernel';
import { RpcCode } from '@plexus/kernel/spi';
import { ACTIVES_REASON, EXECUTES_REASON } from '../src/concurrency-errors';

interface Slow {
  hold(ms: number): Promise<string>;
}

const apps: Plexus[] = [];
afterEach(async () => {
  for (const app of apps.splice(0).reverse()) await app.stop();
});

function app(name: string, extra: Record<string, unknown> = {}): Plexus {
  const a = Plexus.create({
    logLevel: 'silent',
    application: { name },
    plugins: ['@plexus/filters'],
    registry: 'none',
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    ...extra,
  });
  apps.push(a);
  return a;
}

async function provider(service: Record<string, unknown> = {}): Promise<number> {
  const p = app('slow-provider');
  p.provide(
    { interface: 'conc.Slow', ...service },
    {
      async hold(ms: number) {
        await new Promise((r) => setTimeout(r, Math.min(ms, 2000)));
        return 'done';
      },
    },
  );
  await p.start();
  return p.exportedUrls()[0].port;
}

async function consumer(port: number, reference: Record<string, unknown>): Promise<Slow> {
  const c = app('slow-consumer', { references: { slow: { interface: 'conc.Slow', url: `plexus://127.0.0.1:${port}`, retries: 0, ...reference } } });
  await c.start();
  return c.reference<Slow>('slow');
}

describe('concurrency in an application', () => {
  it('actives: a call that waits in vain until its deadline gets LIMIT_EXCEEDED (actives), not TIMEOUT', async () => {
    const slow = await consumer(await provider(), { actives: 1, timeout: 300 });
    const first = slow.hold(1000).catch((e) => e);
    const second = slow.hold(0).catch((e) => e);
    expect(await first).toMatchObject({ code: RpcCode.TIMEOUT });
    expect(await second).toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: ACTIVES_REASON });
    // Both slots are free again afterwards.
    await expect(slow.hold(0)).resolves.toBe('done');
  });

  it('actives: a waiting call runs as soon as the slot frees, within its deadline', async () => {
    const slow = await consumer(await provider(), { actives: 1, timeout: 2000 });
    const started = Date.now();
    await expect(Promise.all([slow.hold(150), slow.hold(150)])).resolves.toEqual(['done', 'done']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('executes on a method: the provider refuses the call beyond it over the wire', async () => {
    const slow = await consumer(await provider({ methods: { hold: { executes: 1 } } }), { timeout: 3000 });
    const outcomes = await Promise.all([slow.hold(200).catch((e) => e), slow.hold(200).catch((e) => e)]);
    expect(outcomes).toContainEqual('done');
    expect(outcomes.find((o) => o !== 'done')).toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: EXECUTES_REASON });
  });

  it.each([
    ['actives: -1 on a reference', { references: { r: { interface: 'conc.Slow', url: 'plexus://127.0.0.1:1', actives: -1 } } }, 'PLEXUS_ERR_CONCURRENCY_CONFIG'],
    ['executes: 1.5 on provider defaults', { provider: { executes: 1.5 } }, 'PLEXUS_ERR_CONCURRENCY_CONFIG'],
    ['tps: "fast" on a reference method', { references: { r: { interface: 'conc.Slow', url: 'plexus://127.0.0.1:1', methods: { hold: { tps: 'fast' } } } } }, 'PLEXUS_ERR_RATELIMIT_CONFIG'],
    ['a shared tps without any Redis', { provider: { tps: { rate: 10, shared: 'redis' } } }, 'PLEXUS_ERR_RATELIMIT_NO_REDIS'],
  ])('%s fails start() with its code', async (_what, extra, code) => {
    const a = app('bad-config', extra);
    a.provide({ interface: 'conc.Other' }, { ping: () => 'pong' });
    await expect(a.start()).rejects.toMatchObject({ code });
  });
});

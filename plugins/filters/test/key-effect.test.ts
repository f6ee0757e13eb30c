import { Plexus } from '@plexus/kernel';

/** A filter key set where its filter does not run is refused at start, naming why. */
async function startWith(service: Record<string, unknown>, reference?: Record<string, unknown>): Promise<string> {
  const app = Plexus.create({
    application: { name: 'key-effect' },
    protocol: { name: 'injvm' },
    registry: { type: 'none' },
    references: reference ? { svc: { interface: 'k.Svc', ...reference } } : {},
  });
  app.provide({ interface: 'k.Svc', ...service }, { ping: () => 'pong' });
  try {
    await app.start();
    return 'started';
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  } finally {
    await app.stop().catch(() => undefined);
  }
}

describe('keys that would do nothing', () => {
  it('refuses a consumer-side key on a service', async () => {
    const out = await startWith({ circuitbreaker: { errorRate: 50 } });
    expect(out).toContain('PLEXUS_ERR_CONFIG_KEY_NO_EFFECT');
    expect(out).toContain('"circuitbreaker" has no effect: the filter "circuitbreaker" (@plexus/filters) that reads it runs on the consumer side only');
  });

  it('refuses actives on a service: on the provider side the concurrency filter reads only executes', async () => {
    const out = await startWith({ methods: { ping: { actives: 2 } } });
    expect(out).toContain('"actives" has no effect');
    expect(out).toContain('reads only executes on the provider side');
  });

  it('refuses a key whose filter the filter: list removes', async () => {
    const out = await startWith({ tps: 10, filter: ['-ratelimit'] });
    expect(out).toContain('"tps" has no effect');
    expect(out).toContain("is removed by this service's `filter:` list");
  });

  it('starts when each key stands where its filter runs', async () => {
    expect(await startWith({ tps: 10, methods: { ping: { executes: 2 } } }, { circuitbreaker: { errorRate: 50 }, actives: 4 })).toBe('started');
  });
});

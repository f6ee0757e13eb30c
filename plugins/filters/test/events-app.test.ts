/**
 * The circuit breaker and the health check tell the application what they do, as events heard
 * through `app.on`: `circuit:open` / `circuit:close` from the breaker, and the kernel's
 * `node:suspended` / `node:restored` naming the filter that holds the node out. Providers are fake
 * in-process invokers; the host in `down` fails with a retryable NETWORK error.
 */
import { Plexus, type PlexusEvent } from '@plexus/kernel';
import { RpcCode, RpcError, type Invoker, type Result, type URL } from '@plexus/kernel/spi';

const down = new Set<string>();

const addressProtocol = {
  name: 'address-protocol',
  extensions: [
    {
      point: 'protocol',
      name: 'addr',
      create: () => ({
        defaultPort: 1,
        export: async () => {
          throw new Error('consumer only');
        },
        refer: (url: URL): Invoker => ({
          url,
          invoke: (): Promise<Result> =>
            down.has(url.host) ? Promise.reject(new RpcError(`connection to ${url.address} refused`, RpcCode.NETWORK)) : Promise.resolve({ value: url.address }),
        }),
        destroy: async () => undefined,
      }),
    },
  ],
};

const apps: Plexus[] = [];
afterEach(async () => {
  down.clear();
  for (const app of apps.splice(0)) await app.stop();
});

async function appWith(reference: Record<string, unknown>) {
  const app = Plexus.create({
    logLevel: 'silent',
    application: { name: 'filter-events' },
    plugins: ['@plexus/filters'],
    protocols: [{ name: 'addr' }],
    references: { svc: { interface: 'events.Svc', url: 'addr://10.0.0.7:1', retries: 0, check: false, ...reference } },
  } as never);
  app.use(addressProtocol as never);
  apps.push(app);
  const events: PlexusEvent[] = [];
  for (const type of ['circuit:open', 'circuit:close', 'node:suspended', 'node:restored']) app.on(type, (e) => events.push(e));
  await app.start();
  return { svc: app.reference<{ where(): Promise<string> }>('svc'), events };
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms in vain for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('filter events', () => {
  it('the breaker emits circuit:open and circuit:close with service, method, address and reason; its suspension names it', async () => {
    const { svc, events } = await appWith({ circuitbreaker: { minCalls: 2, errorRate: 50, openMs: 100, probes: 1 } });
    down.add('10.0.0.7');
    for (let i = 0; i < 2; i++) await expect(svc.where()).rejects.toMatchObject({ code: RpcCode.NETWORK });
    const opened = events.find((e) => e.type === 'circuit:open');
    expect(opened).toMatchObject({ service: 'events.Svc', method: 'where', address: '10.0.0.7:1' });
    expect(opened?.reason).toMatch(/2 of 2 calls failed/);
    expect(typeof opened?.at).toBe('number');
    expect(events.find((e) => e.type === 'node:suspended')).toMatchObject({ address: '10.0.0.7:1', holder: expect.stringMatching(/^circuitbreaker#/) });
    expect(events.some((e) => e.type === 'circuit:close')).toBe(false);

    down.clear();
    // After openMs a probe goes through; one success (probes: 1) closes the circuit.
    await new Promise((r) => setTimeout(r, 150));
    await expect(svc.where()).resolves.toBe('10.0.0.7:1');
    expect(events.find((e) => e.type === 'circuit:close')).toMatchObject({ service: 'events.Svc', method: 'where', address: '10.0.0.7:1', reason: '1 probes succeeded' });
  });

  it('health emits no event of its own: its suspension and restore come as node:suspended / node:restored with holder health#<n>', async () => {
    const { svc, events } = await appWith({ health: { failures: 2, probeMs: 30 } });
    down.add('10.0.0.7');
    for (let i = 0; i < 2; i++) await expect(svc.where()).rejects.toMatchObject({ code: RpcCode.NETWORK });
    const suspended = events.find((e) => e.type === 'node:suspended');
    expect(suspended).toMatchObject({ address: '10.0.0.7:1', holder: expect.stringMatching(/^health#\d+$/) });
    expect(suspended?.reason).toContain('2 network failures in a row');
    expect(events.some((e) => e.type.startsWith('circuit:'))).toBe(false);
    down.clear();
    await until('the $echo probe to restore the node', () => events.some((e) => e.type === 'node:restored'));
    expect(events.find((e) => e.type === 'node:restored')).toMatchObject({ address: '10.0.0.7:1', holder: suspended?.holder });
  });
});

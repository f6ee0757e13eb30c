/**
 * The balancers inside a real application: chosen by name from config (the kernel's loader finds
 * them in this package's manifest), fed by the registry directory, and called by the real cluster,
 * which drives the attempt hooks. Providers are fake in-process invokers reporting their address.
 */
import { Plexus } from '@plexus/kernel';
import { URL, type Invoker, type Result } from '@plexus/kernel/spi';
import { MemoryRegistry, memoryRegistryPlugin, waitFor } from '@plexus/kernel/testing';

/** Answers held until `release()`: calls to the host named `slowHost` pile up, others answer at once. */
let slowHost = '';
const held: Array<() => void> = [];
const release = () => held.splice(0).forEach((settle) => settle());

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
          invoke: () =>
            url.host === slowHost
              ? new Promise<Result>((resolve) => held.push(() => resolve({ value: url.address })))
              : Promise.resolve({ value: url.address }),
        }),
        destroy: async () => undefined,
      }),
    },
  ],
};

interface Where {
  where(key: string, other?: string): Promise<string>;
}

async function appWith(namespace: string, reference: Record<string, unknown>, providers = 3, extensions?: Record<string, unknown>) {
  const app = Plexus.create({
    logLevel: 'silent',
    application: { name: `lb-${namespace}` },
    protocols: [{ name: 'addr' }],
    registry: { type: 'memory', namespace },
    references: { svc: { interface: 'lb.Svc', check: false, retries: 0, ...reference } },
    ...(extensions ? { extensions } : {}),
  } as never);
  app.use(memoryRegistryPlugin).use(addressProtocol as never);
  const registry = new MemoryRegistry({ namespace });
  for (let n = 1; n <= providers; n++) await registry.register(new URL('addr', `10.0.0.${n}`, 1, 'lb.Svc', { side: 'provider' }));
  await app.start();
  const svc = app.reference<Where>('svc');
  await waitFor(
    async () => (await svc.where('probe').catch((err: { code?: string; reason?: string }) => (err.code === 'NO_PROVIDER' ? '' : 'failed'))) !== '',
    5000,
    'the reference sees providers',
  );
  return {
    svc,
    async close() {
      await registry.close();
      await app.stop();
      MemoryRegistry.reset(namespace);
    },
  };
}

describe('load balancers in an application', () => {
  afterEach(() => {
    slowHost = '';
    release();
  });

  it.each(['random', 'roundrobin', 'leastactive', 'shortestresponse', 'consistenthash', 'p2c'])('%s is found by name and balances calls', async (name) => {
    const { svc, close } = await appWith(`by-name-${name}`, { loadbalance: name });
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 90; i++) seen.add(await svc.where(`key-${i}`));
      expect([...seen].sort()).toEqual(['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1']);
    } finally {
      await close();
    }
  });

  it('leastactive starves a provider whose calls do not come back, through the cluster\'s hooks', async () => {
    slowHost = '10.0.0.2';
    const { svc, close } = await appWith('starve', { loadbalance: 'leastactive' });
    try {
      const counts = new Map<string, number>();
      const pending: Array<Promise<string>> = [];
      for (let i = 0; i < 60; i++) {
        const call = svc.where(`k${i}`);
        pending.push(call);
        const answered = await Promise.race([call, new Promise<string>((r) => setImmediate(() => r('held')))]);
        counts.set(answered, (counts.get(answered) ?? 0) + 1);
      }
      // The slow provider got its first call or two; after that it always had more in flight.
      expect(counts.get('held') ?? 0).toBeLessThanOrEqual(2);
      expect((counts.get('10.0.0.1:1') ?? 0) + (counts.get('10.0.0.3:1') ?? 0)).toBeGreaterThanOrEqual(58);
      release();
      await Promise.all(pending);
    } finally {
      await close();
    }
  });

  it.each([
    ['p2c', { decay: 5 }, /decay must be <= 1/],
    ['shortestresponse', { windowMs: 1 }, /windowMs must be >= 2/],
    ['roundrobin', { recycleMs: 0 }, /recycleMs must be >= 1/],
    ['p2c', { probeMS: 10 }, /unknown option "probeMS"/],
  ])('%s: out-of-range or misspelt options under extensions.loadbalance fail start() with a coded error naming the key', async (name, options, message) => {
    const err = await appWith(`options-${name}`, { loadbalance: name }, 2, { loadbalance: { [name]: options } }).then(
      async ({ close }) => {
        await close();
        return undefined;
      },
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(err?.code).toBe('PLEXUS_ERR_EXTENSION_OPTIONS');
    expect(err!.message).toMatch(message);
  });

  it('consistenthash keeps a key on one provider, with hash.arguments from the method config', async () => {
    const { svc, close } = await appWith('hash', { loadbalance: 'consistenthash', methods: { where: { 'hash.arguments': 1, 'hash.nodes': 40 } } }, 5);
    try {
      const homes = new Set<string>();
      for (let i = 0; i < 30; i++) homes.add(await svc.where(`varying-${i}`, 'fixed'));
      expect(homes.size).toBe(1);
      const spread = new Set<string>();
      for (let i = 0; i < 60; i++) spread.add(await svc.where('fixed', `varying-${i}`));
      expect(spread.size).toBeGreaterThan(2);
    } finally {
      await close();
    }
  });
});

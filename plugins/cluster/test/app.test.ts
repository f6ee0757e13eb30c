/**
 * The clusters inside a real application: chosen by name from config (the kernel's loader finds
 * them in this package's manifest), their keys (`sticky`, `forks`) accepted because they claim
 * them, fed by the registry directory, and closed by `app.stop()`. Providers are fake in-process
 * invokers reporting their address; hosts listed in `down` fail with a retryable NETWORK error.
 */
import { Plexus } from '@plexus/kernel';
import { RpcCode, RpcError, URL, type Invoker, type Result } from '@plexus/kernel/spi';
import { MemoryRegistry, memoryRegistryPlugin } from '@plexus/kernel/testing';

const down = new Set<string>();
const calls = new Map<string, number>();

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
          invoke: (): Promise<Result> => {
            calls.set(url.host, (calls.get(url.host) ?? 0) + 1);
            return down.has(url.host)
              ? Promise.reject(new RpcError(`connection to ${url.address} refused`, RpcCode.NETWORK))
              : Promise.resolve({ value: url.address });
          },
        }),
        destroy: async () => undefined,
      }),
    },
  ],
};

interface Where {
  where(): Promise<string | undefined>;
}

async function appWith(namespace: string, reference: Record<string, unknown>, extensions?: Record<string, unknown>) {
  const app = Plexus.create({
    logLevel: 'silent',
    application: { name: `cluster-${namespace}` },
    protocols: [{ name: 'addr' }],
    registry: { type: 'memory', namespace },
    references: { svc: { interface: 'cluster.Svc', check: false, loadbalance: 'roundrobin', ...reference } },
    ...(extensions ? { extensions } : {}),
  } as never);
  app.use(memoryRegistryPlugin).use(addressProtocol as never);
  const registry = new MemoryRegistry({ namespace });
  for (let n = 1; n <= 3; n++) await registry.register(new URL('addr', `10.0.0.${n}`, 1, 'cluster.Svc', { side: 'provider' }));
  const warn = jest.spyOn(app.logger, 'warn');
  await app.start();
  const svc = app.reference<Where>('svc');
  // The first calls wait for the registry's first list by themselves (within their deadline).
  return {
    app,
    svc,
    warn,
    async close() {
      await registry.close();
      await app.stop();
      MemoryRegistry.reset(namespace);
    },
  };
}

const total = () => [...calls.values()].reduce((a, b) => a + b, 0);

describe('clusters in an application', () => {
  afterEach(() => {
    down.clear();
    calls.clear();
  });

  it.each(['failover', 'failfast', 'failsafe', 'failback', 'forking', 'broadcast', 'available'])('%s is found by name and serves calls', async (name) => {
    const { svc, close } = await appWith(`by-name-${name}`, { cluster: name });
    try {
      for (let i = 0; i < 6; i++) expect(await svc.where()).toMatch(/^10\.0\.0\.[123]:1$/);
    } finally {
      await close();
    }
  });

  it('sticky: true in config is accepted and keeps a reference on one provider until it fails', async () => {
    const { svc, close } = await appWith('sticky', { sticky: true, retries: 2 });
    try {
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 9; i++) seen.add(await svc.where());
      expect(seen.size).toBe(1);
      const first = [...seen][0]!;
      down.add(first.split(':')[0]);
      const after = new Set<string | undefined>();
      for (let i = 0; i < 9; i++) after.add(await svc.where());
      expect(after.size).toBe(1);
      expect(after.has(first)).toBe(false);
    } finally {
      await close();
    }
  });

  it('forks: 3 in config makes forking call three providers per call', async () => {
    const { svc, close } = await appWith('forks', { cluster: 'forking', forks: 3 });
    try {
      await svc.where();
      calls.clear();
      await svc.where();
      expect(total()).toBe(3);
    } finally {
      await close();
    }
  });

  it('failback options from config take effect, and app.stop() reports the calls still queued', async () => {
    down.add('10.0.0.1').add('10.0.0.2').add('10.0.0.3');
    const { svc, warn, close } = await appWith('failback', { cluster: 'failback' }, { cluster: { failback: { queueSize: 2, retryInterval: 60000 } } });
    let closed = false;
    try {
      expect(await svc.where()).toBeUndefined();
      expect(await svc.where()).toBeUndefined();
      await expect(svc.where()).rejects.toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: 'PLEXUS_ERR_CLUSTER_FAILBACK_FULL' });
      await close();
      closed = true;
      const report = warn.mock.calls.find((c) => (c[1] as { code?: string } | undefined)?.code === 'PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED');
      expect(report?.[0]).toContain('2 failed calls of cluster.Svc were still queued');
    } finally {
      if (!closed) await close();
    }
  });
});

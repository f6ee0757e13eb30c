import { RegistryDirectory } from '../src/cluster/registry-directory';
import { URL } from '../src/url/url';
import { FakeInvoker, MemoryLogger } from '../src/testing';
import type { RegistryManager } from '../src/registry/registry-manager';

const consumer = new URL('consumer', '10.0.0.9', 0, 'demo.Greeter', { version: '1.0.0', side: 'consumer' });
const provider = (host: string) => new URL('plexus', host, 20880, 'demo.Greeter', { version: '1.0.0', category: 'providers', side: 'provider' });

function directory(logger: MemoryLogger, recovering = true): RegistryDirectory {
  const registries = { subscribe: async () => undefined, unsubscribe: async () => undefined, recovering: () => recovering } as unknown as RegistryManager;
  return new RegistryDirectory(consumer, registries, (u) => new FakeInvoker(u.toString()), logger);
}

describe('RegistryDirectory: empty protection', () => {
  afterEach(() => jest.useRealTimers());

  it('right after a registry\'s new session: keeps the known providers when it lists none, warns once, takes the next non-empty list', () => {
    const logger = new MemoryLogger();
    const d = directory(logger);
    d.notify([provider('10.0.0.1'), provider('10.0.0.2')]);
    expect(d.all().map((i) => i.url.host).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    d.notify([]);
    d.notify([]);
    expect(d.all()).toHaveLength(2);
    const warnings = logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_REGISTRY_EMPTY_LIST');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain('demo.Greeter');
    d.notify([provider('10.0.0.3')]);
    expect(d.all().map((i) => i.url.host)).toEqual(['10.0.0.3']);
  });

  it('believes the empty list once the grace period is over', () => {
    jest.useFakeTimers();
    const d = directory(new MemoryLogger());
    d.notify([provider('10.0.0.1')]);
    d.notify([]);
    expect(d.all()).toHaveLength(1);
    (d as unknown as { registries: { recovering: () => boolean } }).registries.recovering = () => false;
    jest.advanceTimersByTime(30_000);
    expect(d.all()).toHaveLength(0);
  });

  it('outside a registry\'s recovery an empty list is believed at once: the last provider left', () => {
    const logger = new MemoryLogger();
    const d = directory(logger, false);
    d.notify([provider('10.0.0.1')]);
    d.notify([]);
    expect(d.all()).toHaveLength(0);
    expect(logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_REGISTRY_EMPTY_LIST')).toHaveLength(0);
  });

  it('a first empty list is simply empty (nothing known to keep), and the directory is ready', async () => {
    const d = directory(new MemoryLogger());
    d.notify([]);
    await d.ready;
    expect(d.all()).toHaveLength(0);
  });
});

describe('RegistryManager.recovering', () => {
  it('is false until a registry comes back with a new session, then true for the grace period', async () => {
    const { RegistryManager } = await import('../src/registry/registry-manager');
    const { MemoryRegistry } = await import('../src/testing');
    const m = new RegistryManager([{ id: 'mem', address: 'memory://recovering', backend: new MemoryRegistry({ namespace: 'recovering' }) }], {
      logger: new MemoryLogger(),
      snapshot: false,
    });
    try {
      expect(m.recovering()).toBe(false);
      MemoryRegistry.outage('recovering', true);
      MemoryRegistry.outage('recovering', false);
      expect(m.recovering()).toBe(true);
      expect(m.recovering(0)).toBe(false);
    } finally {
      await m.close();
    }
  });
});

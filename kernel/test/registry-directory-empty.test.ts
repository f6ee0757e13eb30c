import { RegistryDirectory } from '../src/cluster/registry-directory';
import { URL } from '../src/url/url';
import { FakeInvoker, MemoryLogger } from '../src/testing';
import type { RegistryManager } from '../src/registry/registry-manager';

const consumer = new URL('consumer', '10.0.0.9', 0, 'demo.Greeter', { version: '1.0.0', side: 'consumer' });
const provider = (host: string) => new URL('plexus', host, 20880, 'demo.Greeter', { version: '1.0.0', category: 'providers', side: 'provider' });

function directory(logger: MemoryLogger): RegistryDirectory {
  const registries = { subscribe: async () => undefined, unsubscribe: async () => undefined } as unknown as RegistryManager;
  return new RegistryDirectory(consumer, registries, (u) => new FakeInvoker(u.toString()), logger);
}

describe('RegistryDirectory: empty protection', () => {
  it('keeps the known providers when a registry suddenly lists none, warns once, and takes the next non-empty list', () => {
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

  it('a first empty list is simply empty (nothing known to keep), and the directory is ready', async () => {
    const d = directory(new MemoryLogger());
    d.notify([]);
    await d.ready;
    expect(d.all()).toHaveLength(0);
  });
});

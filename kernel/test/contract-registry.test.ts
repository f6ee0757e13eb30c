import { Plexus } from '../src';
import { definePlugin } from '../src/extension/plugin';
import { InjvmProtocol } from '../src/protocol/injvm-protocol';
import { URL } from '../src/url/url';
import { fakeExtensionContext, MemoryLogger, MemoryRegistry, memoryRegistryPlugin, registryContract, registryManagerContract, waitFor } from '../src/testing';

registryContract('memory', () => new MemoryRegistry({ namespace: 'contract' }));

describe('MemoryRegistry', () => {
  afterEach(() => MemoryRegistry.reset());

  const provider = (n: number, path = 'demo.Greeter') => URL.parse(`plexus://10.0.0.${n}:20880/${path}?weight=100`);
  const consumer = URL.parse('consumer://10.0.0.200/demo.Greeter');

  it('delivers in a later microtask, never inside subscribe or register', async () => {
    const r = new MemoryRegistry({ namespace: 'async' });
    const lists: string[][] = [];
    const subscribing = r.subscribe(consumer, (urls) => lists.push(urls.map(String)));
    expect(lists).toEqual([]);
    await subscribing;
    await waitFor(() => lists.length === 1);
    const registering = r.register(provider(1));
    expect(lists).toHaveLength(1);
    await registering;
    await waitFor(() => lists.length === 2);
    expect(lists).toEqual([[], [provider(1).toString()]]);
    await r.close();
  });

  it('delivers changes made in one turn as one list', async () => {
    const r = new MemoryRegistry({ namespace: 'batch' });
    const lists: number[] = [];
    await r.subscribe(consumer, (urls) => lists.push(urls.length));
    await waitFor(() => lists.length === 1);
    await Promise.all([1, 2, 3, 4].map((n) => r.register(provider(n))));
    await waitFor(() => lists[lists.length - 1] === 4);
    expect(lists).toEqual([0, 4]);
    await r.close();
  });

  it('keeps namespaces apart', async () => {
    const a = new MemoryRegistry({ namespace: 'left' });
    const b = new MemoryRegistry({ namespace: 'right' });
    await a.register(provider(1));
    await b.register(provider(2));
    expect(MemoryRegistry.providers('left', 'demo.Greeter').map(String)).toEqual([provider(1).toString()]);
    expect(MemoryRegistry.providers('right', 'demo.Greeter').map(String)).toEqual([provider(2).toString()]);
    const seen: string[][] = [];
    await b.subscribe(consumer, (urls) => seen.push(urls.map(String)));
    await waitFor(() => seen.length === 1);
    expect(seen[0]).toEqual([provider(2).toString()]);
    await Promise.all([a.close(), b.close()]);
  });

  it('keeps a URL two instances registered until both closed', async () => {
    const a = new MemoryRegistry({ namespace: 'shared' });
    const b = new MemoryRegistry({ namespace: 'shared' });
    await a.register(provider(1));
    await b.register(provider(1));
    await a.close();
    expect(MemoryRegistry.providers('shared', 'demo.Greeter')).toHaveLength(1);
    await b.close();
    expect(MemoryRegistry.providers('shared', 'demo.Greeter')).toHaveLength(0);
  });

  it('refuses register and subscribe after close()', async () => {
    const r = new MemoryRegistry();
    await r.close();
    await expect(r.register(provider(1))).rejects.toThrow(/after close/);
    await expect(r.subscribe(consumer, () => undefined)).rejects.toThrow(/after close/);
    await expect(r.unregister(provider(1))).resolves.toBeUndefined();
    await expect(r.close()).resolves.toBeUndefined();
  });

  it('logs a failing listener and keeps notifying the others', async () => {
    const logger = new MemoryLogger();
    const r = new MemoryRegistry({ namespace: 'faulty' }, logger);
    const seen: number[] = [];
    await r.subscribe(consumer, () => {
      throw new Error('listener bug');
    });
    await r.subscribe(consumer, (urls) => seen.push(urls.length));
    await r.register(provider(1));
    await waitFor(() => seen[seen.length - 1] === 1);
    expect(logger.entries.some((e) => e.level === 'error' && e.message.includes('listener bug'))).toBe(true);
    await r.close();
  });

  it('is the registry extension "memory" of memoryRegistryPlugin, reading namespace from its options', () => {
    expect(memoryRegistryPlugin.name).toBe('@plexus/kernel/testing');
    const [ext] = memoryRegistryPlugin.extensions;
    expect([ext.point, ext.name]).toEqual(['registry', 'memory']);
    const created = ext.create(fakeExtensionContext({ type: 'memory', namespace: 'from-config' }));
    expect(created).toBeInstanceOf(MemoryRegistry);
    expect((created as MemoryRegistry).namespace).toBe('from-config');
  });
});

describe('memoryRegistryPlugin', () => {
  afterEach(() => MemoryRegistry.reset());

  it('lets two apps in one process discover each other', async () => {
    // A network-like protocol without a network: both apps share one in-process protocol named "loop".
    const shared = new InjvmProtocol();
    const loop = definePlugin({ name: 'loop', extensions: [{ point: 'protocol', name: 'loop', create: () => shared }] });
    const registry = { type: 'memory', namespace: 'two-apps' };
    const provider = Plexus.create({ application: { name: 'provider', handleSignals: false }, registry, protocol: { name: 'loop' } })
      .use(memoryRegistryPlugin)
      .use(loop);
    provider.provide({ interface: 'demo.Greeter' }, { sayHello: (name: string) => `hello ${name}` });
    const consumer = Plexus.create({ application: { name: 'consumer' }, registry, references: { greeter: { interface: 'demo.Greeter' } } })
      .use(memoryRegistryPlugin)
      .use(loop);
    try {
      await provider.start();
      expect(MemoryRegistry.providers('two-apps', 'demo.Greeter').map((u) => u.protocol)).toEqual(['loop']);
      await consumer.start();
      const greeter = consumer.reference<{ sayHello(name: string): Promise<string> }>('greeter');
      await expect(greeter.sayHello('ada')).resolves.toBe('hello ada');
    } finally {
      await consumer.stop();
      await provider.stop();
    }
    expect(MemoryRegistry.providers('two-apps', 'demo.Greeter')).toEqual([]);
  });
});

describe('consumer check at start', () => {
  it('fails start() with a code when the registry lists no provider, and starts with check: false', async () => {
    const { Plexus } = await import('../src');
    const { memoryRegistryPlugin } = await import('../src/testing');
    const strict = Plexus.create({
      registry: { type: 'memory', namespace: 'check-test' },
      references: { missing: { interface: 'nobody.Home' } },
    }).use(memoryRegistryPlugin);
    await expect(strict.start()).rejects.toMatchObject({ code: 'PLEXUS_ERR_APP_CHECK_FAILED' });
    const lenient = Plexus.create({
      registry: { type: 'memory', namespace: 'check-test' },
      consumer: { check: false },
      references: { missing: { interface: 'nobody.Home' } },
    }).use(memoryRegistryPlugin);
    await expect(lenient.start()).resolves.toBe(lenient);
    await lenient.stop();
  });
});

describe('a registry that never answers', () => {
  it('fails calls with a coded NO_PROVIDER after their timeout instead of hanging', async () => {
    const { Plexus, definePlugin } = await import('../src');
    const silent = definePlugin({
      name: 'silent-registry',
      extensions: [
        {
          point: 'registry',
          name: 'silent',
          create: () => ({
            register: async () => undefined,
            unregister: async () => undefined,
            subscribe: async () => undefined, // never calls the listener
            unsubscribe: async () => undefined,
            close: async () => undefined,
          }),
        },
      ],
    });
    const app = Plexus.create({ registry: { type: 'silent' }, consumer: { check: false }, references: { r: { interface: 'nobody.Home', timeout: 200 } } }).use(silent);
    await app.start();
    const started = Date.now();
    const err = await app.reference<{ f(): void }>('r').f().catch((e) => e);
    expect(err).toMatchObject({ code: 'NO_PROVIDER', reason: 'PLEXUS_ERR_APP_REGISTRY_PENDING', retryable: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await app.stop();
  });
});

registryManagerContract('memory', () => new MemoryRegistry({ namespace: 'managed' }), {
  stop: async () => MemoryRegistry.outage('managed', true),
  start: async () => MemoryRegistry.outage('managed', false),
});

describe('a registry that is down when a consumer starts', () => {
  afterEach(() => MemoryRegistry.outage('down-at-start', false));

  it('with no snapshot and check on, start() fails with a coded error naming the registry', async () => {
    MemoryRegistry.outage('down-at-start', true);
    const app = Plexus.create({
      application: { name: 'down-at-start' },
      logLevel: 'silent',
      registry: { type: 'memory', namespace: 'down-at-start', snapshot: false },
      consumer: { checkTimeout: 300 },
      references: { g: { interface: 'down.Greeter' } },
    }).use(memoryRegistryPlugin);
    await expect(app.start()).rejects.toMatchObject({ code: 'PLEXUS_ERR_REGISTRY_UNREACHABLE', message: expect.stringContaining('memory://') });
  });

  it('with check off, start() succeeds and calls work once the registry is back', async () => {
    MemoryRegistry.outage('down-at-start', true);
    // A protocol whose invokers answer with their address: enough to see a call reach a provider.
    const addr = definePlugin({
      name: 'addr-protocol',
      extensions: [
        {
          point: 'protocol',
          name: 'addr',
          create: () => ({
            defaultPort: 1,
            export: async () => {
              throw new Error('consumer only');
            },
            refer: (url: URL) => ({ url, invoke: async () => ({ value: url.address }) }),
            destroy: async () => undefined,
          }),
        },
      ],
    });
    const app = Plexus.create({
      application: { name: 'down-at-start2' },
      logLevel: 'silent',
      protocols: [{ name: 'addr' }],
      registry: { type: 'memory', namespace: 'down-at-start', snapshot: false },
      references: { g: { interface: 'down.Greeter', check: false, timeout: 10_000 } },
    })
      .use(memoryRegistryPlugin)
      .use(addr);
    await app.start();
    const call = app.reference<{ where(): string }>('g').where();
    MemoryRegistry.outage('down-at-start', false);
    const registry = new MemoryRegistry({ namespace: 'down-at-start' });
    await registry.register(new URL('addr', '10.9.0.1', 1, 'down.Greeter', { side: 'provider' }));
    await expect(call).resolves.toBe('10.9.0.1:1');
    await registry.close();
    await app.stop();
  });
});

describe('several registries', () => {
  afterEach(() => {
    MemoryRegistry.reset('several-a');
    MemoryRegistry.reset('several-b');
  });

  it('a provider registers with every registry of `registries:`, and each names its own entries', async () => {
    const app = Plexus.create({
      application: { name: 'several', handleSignals: false },
      logLevel: 'silent',
      protocol: { name: 'plexus', port: 0 },
      registries: [
        { type: 'memory', id: 'a', namespace: 'several-a', snapshot: false },
        { type: 'memory', id: 'b', namespace: 'several-b' },
      ],
    }).use(memoryRegistryPlugin);
    app.provide({ interface: 'several.Svc' }, { m: () => 1 });
    await app.start();
    expect(MemoryRegistry.providers('several-a', 'several.Svc')).toHaveLength(1);
    expect(MemoryRegistry.providers('several-b', 'several.Svc')).toHaveLength(1);
    await app.stop();
    expect(MemoryRegistry.providers('several-a', 'several.Svc')).toHaveLength(0);
    expect(MemoryRegistry.providers('several-b', 'several.Svc')).toHaveLength(0);
  });
});

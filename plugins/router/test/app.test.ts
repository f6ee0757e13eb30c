/**
 * The routers inside a real application: found by name through this package's manifest, fed by
 * the registry directory, and given dynamic rules written with `app.rules` (the kernel's
 * delivery). Providers are fake in-process invokers answering with their address.
 */
import { Plexus } from '@plexus/kernel';
import { PlexusError, RpcError, URL, type Invoker } from '@plexus/kernel/spi';
import { MemoryRegistry, memoryRegistryPlugin, waitFor } from '@plexus/kernel/testing';

const IFACE = 'router.Svc';

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
        refer: (url: URL): Invoker => ({ url, invoke: () => Promise.resolve({ value: url.address }) }),
        destroy: async () => undefined,
      }),
    },
  ],
};

interface Where {
  where(): Promise<string>;
}

const namespaces: string[] = [];

/** Three providers: 10.0.0.1 tagged gray, 10.0.0.2 and 10.0.0.3 untagged. */
async function appWith(namespace: string, reference: Record<string, unknown>) {
  namespaces.push(namespace);
  const app = Plexus.create({
    logLevel: 'silent',
    application: { name: `router-${namespace}` },
    protocols: [{ name: 'addr' }],
    registry: { type: 'memory', namespace },
    references: { svc: { interface: IFACE, check: false, retries: 0, loadbalance: 'roundrobin', ...reference } },
  });
  app.use(memoryRegistryPlugin).use(addressProtocol as never);
  const registry = new MemoryRegistry({ namespace });
  await registry.register(new URL('addr', '10.0.0.1', 1, IFACE, { side: 'provider', tag: 'gray' }));
  await registry.register(new URL('addr', '10.0.0.2', 1, IFACE, { side: 'provider' }));
  await registry.register(new URL('addr', '10.0.0.3', 1, IFACE, { side: 'provider' }));
  await app.start();
  const svc = app.reference<Where>('svc');
  await waitFor(async () => (await svc.where().catch(() => '')) !== '', 5000, 'the reference sees providers');
  return { app, svc, registry };
}

/** The addresses 12 calls reach (round robin over at most three providers), sorted. */
async function destinations(svc: Where, attachments?: Record<string, string>): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) seen.add(attachments ? await Plexus.withCallOptions({ attachments }, () => svc.where()) : await svc.where());
  return [...seen].sort();
}

const apps: { app: Plexus; registry: MemoryRegistry }[] = [];
afterEach(async () => {
  for (const { app, registry } of apps.splice(0)) {
    await app.stop();
    await registry.close();
  }
  for (const ns of namespaces.splice(0)) MemoryRegistry.reset(ns);
});

async function started(namespace: string, reference: Record<string, unknown>) {
  const made = await appWith(namespace, reference);
  apps.push(made);
  return made;
}

describe('routers in an application', () => {
  it('tag: found by name; plain calls avoid tagged providers, plexus.tag picks them, an unknown tag falls back, a forced one fails', async () => {
    const { svc } = await started('tag-by-name', { router: ['tag'] });
    expect(await destinations(svc)).toEqual(['10.0.0.2:1', '10.0.0.3:1']);
    expect(await destinations(svc, { 'plexus.tag': 'gray' })).toEqual(['10.0.0.1:1']);
    expect(await destinations(svc, { 'plexus.tag': 'red' })).toEqual(['10.0.0.2:1', '10.0.0.3:1']);
    const forced = await Plexus.withCallOptions({ attachments: { 'plexus.tag': 'red', 'plexus.tag.force': 'true' } }, () => svc.where()).catch((e: unknown) => e);
    expect(forced).toBeInstanceOf(RpcError);
    expect((forced as RpcError).message).toMatch(/provider/i);
  });

  it('condition: a rule written with app.rules steers calls within seconds; a malformed one is refused with a code and the previous stays', async () => {
    const { app, svc } = await started('condition-rules', { router: ['condition'] });
    const errors = jest.spyOn(app.logger, 'error');
    await app.rules.route({ interface: IFACE, router: 'condition', rule: 'method = where => address != 10.0.0.1', id: 'c1' });
    await waitFor(async () => (await destinations(svc)).join() === '10.0.0.2:1,10.0.0.3:1', 5000, 'the rule applied');
    await app.rules.route({ interface: IFACE, router: 'condition', rule: 'method = where => host = 10.0.0.3', id: 'c1' });
    await waitFor(async () => (await destinations(svc)).join() === '10.0.0.3:1', 5000, 'the rule replaced');
    await app.rules.route({ interface: IFACE, router: 'condition', rule: 'method = where host = 10.0.0.1', id: 'c2' });
    const refused = () => errors.mock.calls.find(([, f]) => (f as { code?: string })?.code === 'PLEXUS_ERR_RULE_REJECTED');
    await waitFor(() => refused() !== undefined, 5000, 'the refusal logged');
    expect(String(refused()![0])).toContain('PLEXUS_ERR_ROUTER_CONDITION_SYNTAX');
    expect(await destinations(svc)).toEqual(['10.0.0.3:1']);
    await app.rules.remove('c2');
    await app.rules.remove('c1');
    await waitFor(async () => (await destinations(svc)).length === 3, 5000, 'the rules removed');
  });

  it('tag: a YAML tag rule written with app.rules gives a tag to an address, with the router created on demand', async () => {
    const { app, svc } = await started('tag-rule', {});
    expect(await destinations(svc, { 'plexus.tag': 'blue' })).toHaveLength(3);
    await app.rules.route({ interface: IFACE, router: 'tag', rule: 'tags:\n  - name: blue\n    addresses: [10.0.0.2]', id: 't1' });
    await waitFor(async () => (await destinations(svc, { 'plexus.tag': 'blue' })).join() === '10.0.0.2:1', 5000, 'the tag rule applied');
    expect(await destinations(svc)).toEqual(['10.0.0.3:1']);
  });

  it('the config key tag: a method-level tag sends that method to its tag', async () => {
    const { svc } = await started('tag-key-method', { router: ['tag'], methods: { where: { tag: 'gray' } } });
    expect(await destinations(svc)).toEqual(['10.0.0.1:1']);
  });

  // The provider's own `tag` (present or absent) wins when the kernel merges the reference's params
  // into a provider URL, so a reference-level tag does not paint every provider.
  it('the config key tag: a reference-level tag sends calls to its tag', async () => {
    const { svc } = await started('tag-key-reference', { router: ['tag'], tag: 'gray' });
    expect(await destinations(svc)).toEqual(['10.0.0.1:1']);
  });

  it('the routers take no options: one given under extensions.router fails start() with a coded error', async () => {
    const app = Plexus.create({
      logLevel: 'silent',
      application: { name: 'router-options' },
      extensions: { router: { condition: { rules: '=> host = 1' } } },
      references: { svc: { interface: IFACE, url: 'injvm://127.0.0.1', router: ['condition'] } },
    });
    const err = await app.start().catch((e: unknown) => e);
    expect(PlexusError.is(err)).toBe(true);
    expect((err as Error).message).toMatch(/options for router "condition": \(options\): unknown option "rules"/);
    await app.stop();
  });

  it('a misspelt router name fails start() with a coded error', async () => {
    const app = Plexus.create({ logLevel: 'silent', application: { name: 'router-typo' }, references: { svc: { interface: IFACE, url: 'injvm://127.0.0.1', router: ['conditon'] } } });
    const err = await app.start().catch((e: unknown) => e);
    expect(PlexusError.is(err)).toBe(true);
    expect((err as Error).message).toMatch(/condition/);
    await app.stop();
  });
});

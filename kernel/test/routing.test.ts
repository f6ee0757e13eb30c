import { Plexus } from '../src';
import { NODE_AVAILABILITY, URL, type Invocation, type Invoker, type NodeAvailability, type Router } from '../src/spi';
import { MemoryRegistry, memoryRegistryPlugin, waitFor } from '../src/testing';

/** A protocol whose invokers answer with their own address: enough to see where calls go. */
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
        refer: (url: URL): Invoker => ({ url, invoke: async () => ({ value: url.address }) }),
        destroy: async () => undefined,
      }),
    },
  ],
};

const notified: number[] = [];
let routed = 0;
/** Keeps only providers whose host ends in an odd digit; counts list changes and calls. */
const oddRouter = {
  name: 'odd-router',
  extensions: [
    {
      point: 'router',
      name: 'odd',
      create: (): Router => {
        let odd: readonly Invoker[] = [];
        return {
          notify(invokers) {
            notified.push(invokers.length);
            odd = invokers.filter((i) => Number(i.url.host.slice(-1)) % 2 === 1);
          },
          route(_invokers: readonly Invoker[], _inv: Invocation) {
            routed++;
            return odd;
          },
        };
      },
    },
  ],
};

describe('routers and node availability', () => {
  afterEach(() => MemoryRegistry.reset('routing'));

  it('routers precompute on list changes (notify), route per call, and suspended nodes leave the list', async () => {
    const app = Plexus.create({
      logLevel: 'silent',
      application: { name: 'routing' },
      protocols: [{ name: 'addr' }],
      registry: { type: 'memory', namespace: 'routing' },
      references: { svc: { interface: 'r.Svc', router: ['odd'], check: false, retries: 0, loadbalance: 'roundrobin' } },
    });
    app.use(memoryRegistryPlugin).use(addressProtocol as never).use(oddRouter as never);
    const registry = new MemoryRegistry({ namespace: 'routing' });
    for (const n of [1, 2, 3]) await registry.register(new URL('addr', `10.0.0.${n}`, 1, 'r.Svc', { side: 'provider' }));
    await app.start();
    const svc = app.reference<{ where(): string }>('svc');
    await waitFor(() => notified.includes(3), 5000, 'the router told of three providers');
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(await svc.where());
    expect([...seen].sort()).toEqual(['10.0.0.1:1', '10.0.0.3:1']);
    expect(routed).toBe(20);
    const notifications = notified.length;

    const nodes = app.container.resolve<NodeAvailability>(NODE_AVAILABILITY);
    nodes.suspend('10.0.0.1:1', 'test: breaker open');
    expect(notified.length).toBe(notifications + 1);
    for (let i = 0; i < 10; i++) expect(await svc.where()).toBe('10.0.0.3:1');
    nodes.restore('10.0.0.1:1');
    seen.clear();
    for (let i = 0; i < 10; i++) seen.add(await svc.where());
    expect(seen.has('10.0.0.1:1')).toBe(true);

    await registry.close();
    await app.stop();
  });
});

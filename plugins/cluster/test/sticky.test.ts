import { fakeClusterSupport, fakeDirectory, fakeInvocation, fakeProviders, FakeInvoker, FakeLoadBalance, MemoryLogger, methodSettings } from '@plexus/kernel/testing';
import { RpcCode, RpcError, RpcInvocation, type Cluster } from '@plexus/kernel/spi';
import { FailoverCluster } from '../src/failover-cluster';
import { FailfastCluster } from '../src/failfast-cluster';
import { ForkingCluster } from '../src/forking-cluster';

/** A balancer that moves on at every pick: only stickiness keeps a provider. */
const rotating = () => {
  let turn = 0;
  return new FakeLoadBalance((list) => list[turn++ % list.length]);
};
const sticky = (method = 'sayHello', extra: Record<string, string> = {}) =>
  fakeInvocation({ method, settings: { params: { sticky: 'true', ...extra } } });

describe.each<[string, () => Cluster]>([
  ['failover', () => new FailoverCluster()],
  ['failfast', () => new FailfastCluster()],
])('sticky under %s', (_name, create) => {
  it('stays on one provider while it is available, then moves and stays on the next', async () => {
    const invokers = fakeProviders([100, 100, 100]);
    const invoker = create().join(fakeDirectory(invokers), fakeClusterSupport(rotating()));
    for (let i = 0; i < 10; i++) await invoker.invoke(sticky());
    expect(invokers.map((i) => i.calls)).toEqual([10, 0, 0]);
    invokers[0].available = false;
    for (let i = 0; i < 10; i++) await invoker.invoke(sticky());
    const moved = invokers.filter((i) => i.calls === 10);
    expect(moved).toHaveLength(2);
    // Back in rotation, the old provider does not win the method back: stickiness follows the last choice.
    invokers[0].available = true;
    await invoker.invoke(sticky());
    expect(invokers[0].calls).toBe(10);
  });

  it('moves when the provider leaves the list', async () => {
    const invokers = fakeProviders([100, 100, 100]);
    const directory = fakeDirectory(invokers);
    const invoker = create().join(directory, fakeClusterSupport(rotating()));
    await invoker.invoke(sticky());
    directory.invokers = invokers.slice(1);
    for (let i = 0; i < 4; i++) await invoker.invoke(sticky());
    expect(invokers.map((i) => i.calls).sort()).toEqual([0, 1, 4]);
  });

  it('keeps one provider per method', async () => {
    const invokers = fakeProviders([100, 100, 100]);
    const invoker = create().join(fakeDirectory(invokers), fakeClusterSupport(rotating()));
    await invoker.invoke(sticky('a'));
    await invoker.invoke(sticky('b'));
    for (let i = 0; i < 3; i++) {
      await invoker.invoke(sticky('a'));
      await invoker.invoke(sticky('b'));
    }
    const a = invokers.filter((i) => i.invocations.some((x) => x.method === 'a'));
    const b = invokers.filter((i) => i.invocations.some((x) => x.method === 'b'));
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    expect(a[0]).not.toBe(b[0]);
  });

  it('is off unless asked: the balancer decides every call', async () => {
    const invokers = fakeProviders([100, 100, 100]);
    const invoker = create().join(fakeDirectory(invokers), fakeClusterSupport(rotating()));
    for (let i = 0; i < 6; i++) await invoker.invoke(fakeInvocation());
    expect(invokers.map((i) => i.calls)).toEqual([2, 2, 2]);
  });
});

describe('sticky', () => {
  it('under failover, moves to the provider a retry succeeded on', async () => {
    const a = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { error: new RpcError('reset', RpcCode.NETWORK) });
    const b = new FakeInvoker('plexus://10.0.0.2:20880/demo.Greeter');
    const invoker = new FailoverCluster().join(fakeDirectory([a, b]), fakeClusterSupport());
    for (let i = 0; i < 3; i++) await invoker.invoke(sticky());
    // First call: a fails, b answers and becomes sticky; the next calls go straight to b.
    expect([a.calls, b.calls]).toEqual([1, 3]);
  });

  it('under forking, keeps the first fork on the sticky provider', async () => {
    const invokers = fakeProviders([100, 100, 100]);
    const invoker = new ForkingCluster().join(fakeDirectory(invokers), fakeClusterSupport(rotating()));
    for (let i = 0; i < 4; i++) await invoker.invoke(sticky());
    expect(invokers.filter((i) => i.calls === 4)).toHaveLength(1);
  });

  it('reports an unusable sticky value once per method and stays off', async () => {
    const logger = new MemoryLogger();
    const invokers = fakeProviders([100, 100]);
    const invoker = new FailoverCluster({ logger }).join(fakeDirectory(invokers), fakeClusterSupport(rotating()));
    const settings = methodSettings({ params: { sticky: 'yes please' } });
    for (let i = 0; i < 4; i++) await invoker.invoke(new RpcInvocation({ service: 'demo.Greeter', method: 'sayHello', args: [], attachments: {}, settings }));
    expect(invokers.map((i) => i.calls)).toEqual([2, 2]);
    const warnings = logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_CLUSTER_OPTION');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain('sticky of method sayHello is "yes please"');
  });

  it('accepts 1 and 0 as well as true and false', async () => {
    for (const [value, spread] of [
      ['1', [4, 0]],
      ['0', [2, 2]],
      ['false', [2, 2]],
    ] as const) {
      const invokers = fakeProviders([100, 100]);
      const invoker = new FailfastCluster().join(fakeDirectory(invokers), fakeClusterSupport(rotating()));
      for (let i = 0; i < 4; i++) await invoker.invoke(fakeInvocation({ settings: { params: { sticky: value } } }));
      expect(invokers.map((i) => i.calls)).toEqual(spread);
    }
  });
});

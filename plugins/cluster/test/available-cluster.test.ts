import { clusterContract, fakeClusterSupport, fakeDirectory, fakeInvocation, fakeProviders, FakeLoadBalance, HookedLoadBalance, rejectionOf } from '@plexus/kernel/testing';
import { RpcCode, RpcError } from '@plexus/kernel/spi';
import plugin, { AvailableCluster } from '../src/available-cluster';

clusterContract('available', () => new AvailableCluster(), { ignoresBalancer: true });

describe('AvailableCluster', () => {
  it('is the plugin default export under cluster/available', () => {
    expect(plugin.extensions[0]).toMatchObject({ point: 'cluster', name: 'available', keys: ['sticky'] });
  });

  it('calls the first available provider in list order and never asks the balancer to choose', async () => {
    const lb = new FakeLoadBalance((list) => list[list.length - 1]);
    const [a, b, c] = fakeProviders([100, 100, 100]);
    a.available = false;
    const invoker = new AvailableCluster().join(fakeDirectory([a, b, c]), fakeClusterSupport(lb));
    for (let i = 0; i < 3; i++) await invoker.invoke(fakeInvocation());
    expect([a.calls, b.calls, c.calls]).toEqual([0, 3, 0]);
    expect(lb.selections).toBe(0);
  });

  it('goes back to the first provider once it is available again', async () => {
    const [a, b] = fakeProviders([100, 100]);
    a.available = false;
    const invoker = new AvailableCluster().join(fakeDirectory([a, b]), fakeClusterSupport());
    await invoker.invoke(fakeInvocation());
    a.available = true;
    await invoker.invoke(fakeInvocation());
    expect([a.calls, b.calls]).toEqual([1, 1]);
  });

  it('rejects with NO_PROVIDER, saying why, when every provider is unavailable; calls none', async () => {
    const [a, b] = fakeProviders([100, 100], { available: false });
    const err = (await rejectionOf(new AvailableCluster().join(fakeDirectory([a, b]), fakeClusterSupport()).invoke(fakeInvocation()))) as RpcError;
    expect(err.code).toBe(RpcCode.NO_PROVIDER);
    expect(err.reason).toBe('PLEXUS_ERR_CLUSTER_NO_PROVIDER');
    expect(err.message).toContain('all 2 listed providers are unavailable');
    expect(a.calls + b.calls).toBe(0);
  });

  it('makes one attempt: a retryable failure is not retried, and the hooks see it once', async () => {
    const lb = new HookedLoadBalance();
    const error = new RpcError('reset', RpcCode.NETWORK);
    const [a, b] = fakeProviders([100, 100], { error });
    await expect(new AvailableCluster().join(fakeDirectory([a, b]), fakeClusterSupport(lb)).invoke(fakeInvocation({ settings: { retries: 3 } }))).rejects.toBe(error);
    expect([a.calls, b.calls]).toEqual([1, 0]);
    expect([lb.startedOn(a), lb.finishedOn(a), lb.selections]).toEqual([1, 1, 0]);
  });
});

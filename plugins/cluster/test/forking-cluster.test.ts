import {
  clusterContract,
  fakeClusterSupport,
  fakeDirectory,
  fakeInvocation,
  fakeProviders,
  FakeInvoker,
  HookedLoadBalance,
  MemoryLogger,
  methodSettings,
  rejectionOf,
} from '@plexus/kernel/testing';
import { RpcCode, RpcError, RpcInvocation, type Invocation, type Result } from '@plexus/kernel/spi';
import plugin, { ForkingCluster } from '../src/forking-cluster';
import { FORK_LOST_REASON } from '../src/errors';

clusterContract('forking', () => new ForkingCluster(), { fansOut: true });

const url = (i: number) => `plexus://10.0.0.${i}:20880/demo.Greeter`;

/** A provider that answers after `ms` (or fails with `error`), and rejects with the cancel reason when its invocation is cancelled. */
function slow(i: number, ms: number, error?: RpcError): FakeInvoker {
  return new FakeInvoker(url(i), {
    handler: (inv: Invocation) =>
      new Promise<Result>((resolve, reject) => {
        const timer = setTimeout(() => (error ? reject(error) : resolve({ value: `from ${i}` })), ms);
        inv.addCancelListener({
          onCancel: (reason) => {
            clearTimeout(timer);
            reject(reason);
          },
        });
      }),
  });
}

describe('ForkingCluster', () => {
  it('is the plugin default export under cluster/forking and claims forks and sticky', () => {
    expect(plugin.extensions[0]).toMatchObject({ point: 'cluster', name: 'forking', keys: ['forks', 'sticky'] });
  });

  it('calls two providers by default; the first success wins and the loser sees the cancel', async () => {
    const fast = slow(1, 5);
    const late = slow(2, 5_000);
    const idle = slow(3, 5);
    const inv = fakeInvocation();
    const result = await new ForkingCluster().join(fakeDirectory([fast, late, idle]), fakeClusterSupport()).invoke(inv);
    expect(result).toEqual({ value: 'from 1' });
    expect([fast.calls, late.calls, idle.calls]).toEqual([1, 1, 0]);
    const lost = late.invocations[0].cancelled;
    expect(lost?.code).toBe(RpcCode.CANCELLED);
    expect(lost?.reason).toBe(FORK_LOST_REASON);
    // The winner was not cancelled, nor the caller's call.
    expect(fast.invocations[0].cancelled).toBeUndefined();
    expect(inv.cancelled).toBeUndefined();
    expect(fast.invocations[0]).not.toBe(inv);
    // Settled attempts stop listening to the caller: a later cancel of the call does not reach them.
    inv.cancel(new RpcError('late', RpcCode.CANCELLED));
    expect(fast.invocations[0].cancelled).toBeUndefined();
  });

  it('calls `forks` providers at once', async () => {
    const invokers = [1, 2, 3, 4].map((i) => slow(i, 5 * i));
    await new ForkingCluster().join(fakeDirectory(invokers), fakeClusterSupport()).invoke(fakeInvocation({ settings: { params: { forks: '3' } } }));
    expect(invokers.map((i) => i.calls)).toEqual([1, 1, 1, 0]);
    expect(invokers.slice(1, 3).every((i) => i.invocations[0].cancelled?.reason === FORK_LOST_REASON)).toBe(true);
  });

  it('forks to every provider when forks exceeds the list, and skips unavailable ones', async () => {
    const invokers = [1, 2, 3].map((i) => slow(i, 5));
    invokers[1].available = false;
    await new ForkingCluster().join(fakeDirectory(invokers), fakeClusterSupport()).invoke(fakeInvocation({ settings: { params: { forks: '10' } } }));
    expect(invokers.map((i) => i.calls)).toEqual([1, 0, 1]);
  });

  it('waits past failures for a success', async () => {
    const failingFast = slow(1, 1, new RpcError('reset', RpcCode.NETWORK));
    const succeedingLate = slow(2, 20);
    const result = await new ForkingCluster().join(fakeDirectory([failingFast, succeedingLate]), fakeClusterSupport()).invoke(fakeInvocation());
    expect(result).toEqual({ value: 'from 2' });
  });

  it('rejects with the error of the last fork to fail, unchanged, when all fail', async () => {
    const first = new RpcError('reset', RpcCode.NETWORK);
    const last = new RpcError('no such user', RpcCode.SERVICE_ERROR);
    const err = await rejectionOf(new ForkingCluster().join(fakeDirectory([slow(1, 1, first), slow(2, 15, last)]), fakeClusterSupport()).invoke(fakeInvocation()));
    expect(err).toBe(last);
  });

  it('cancels every fork when the caller’s call is cancelled', async () => {
    const invokers = [slow(1, 5_000), slow(2, 5_000)];
    const inv = fakeInvocation();
    const call = new ForkingCluster().join(fakeDirectory(invokers), fakeClusterSupport()).invoke(inv);
    const reason = new RpcError('deadline passed', RpcCode.TIMEOUT);
    inv.cancel(reason);
    await expect(call).rejects.toBe(reason);
    expect(invokers.every((i) => i.invocations[0].cancelled === reason)).toBe(true);
  });

  it('calls the hooks once per fork; the cancelled loser finishes as failed', async () => {
    const lb = new HookedLoadBalance();
    const invokers = [slow(1, 5), slow(2, 5_000)];
    await new ForkingCluster().join(fakeDirectory(invokers), fakeClusterSupport(lb)).invoke(fakeInvocation());
    // The loser settles right after its cancel: wait for that turn of the event loop.
    await new Promise((r) => setImmediate(r));
    expect(invokers.map((i) => [lb.startedOn(i), lb.finishedOn(i)])).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(lb.failures).toEqual([false, true]);
  });

  it('reports an unusable forks value once and uses 2', async () => {
    const logger = new MemoryLogger();
    const cluster = new ForkingCluster({ logger });
    const invokers = [1, 2, 3].map((i) => slow(i, 1));
    const invoker = cluster.join(fakeDirectory(invokers), fakeClusterSupport());
    // The kernel shares one settings object per method: build calls the same way.
    const settings = methodSettings({ params: { forks: 'many' } });
    const call = () => new RpcInvocation({ service: 'demo.Greeter', method: 'sayHello', args: [], attachments: {}, settings });
    for (let i = 0; i < 3; i++) await invoker.invoke(call());
    expect(invokers.map((i) => i.calls)).toEqual([3, 3, 0]);
    const warnings = logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_CLUSTER_OPTION');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain('forks of method sayHello is "many"');
  });
});

describe('ForkingCluster with a throwing balancer hook', () => {
  it('counts that fork as failed and takes the other fork’s success', async () => {
    const lb = new HookedLoadBalance();
    let n = 0;
    lb.started = () => {
      if (n++ === 1) throw new Error('balancer bug');
    };
    const invokers = [slow(1, 5), slow(2, 5)];
    const result = await new ForkingCluster().join(fakeDirectory(invokers), fakeClusterSupport(lb)).invoke(fakeInvocation());
    expect(result).toEqual({ value: 'from 1' });
    expect([invokers[0].calls, invokers[1].calls]).toEqual([1, 0]);
  });

  it('rejects with the balancer’s error when every fork’s hook throws', async () => {
    const lb = new HookedLoadBalance();
    lb.started = () => {
      throw new Error('balancer bug');
    };
    const invokers = [slow(1, 5), slow(2, 5)];
    await expect(new ForkingCluster().join(fakeDirectory(invokers), fakeClusterSupport(lb)).invoke(fakeInvocation())).rejects.toThrow('balancer bug');
    expect(invokers.map((i) => i.calls)).toEqual([0, 0]);
  });
});

import { clusterContract, fakeClusterSupport, fakeDirectory, fakeInvocation, fakeProviders, FakeInvoker, HookedLoadBalance, rejectionOf } from '@plexus/kernel/testing';
import { RpcCode, RpcError, type Invocation } from '@plexus/kernel/spi';
import plugin, { BroadcastCluster } from '../src/broadcast-cluster';
import { BROADCAST_REASON } from '../src/errors';

clusterContract('broadcast', () => new BroadcastCluster(), { fansOut: true });

const url = (i: number) => `plexus://10.0.0.${i}:20880/demo.Greeter`;

describe('BroadcastCluster', () => {
  it('is the plugin default export under cluster/broadcast', () => {
    expect(plugin.extensions[0]).toMatchObject({ point: 'cluster', name: 'broadcast', keys: ['sticky'] });
  });

  it('calls every provider once, each on its own invocation, and answers with the first one’s result', async () => {
    const invokers = [1, 2, 3].map((i) => new FakeInvoker(url(i), { value: `from ${i}` }));
    const inv = fakeInvocation({ attachments: { trace: 't1' } });
    const result = await new BroadcastCluster().join(fakeDirectory(invokers), fakeClusterSupport()).invoke(inv);
    expect(result).toEqual({ value: 'from 1' });
    expect(invokers.map((i) => i.calls)).toEqual([1, 1, 1]);
    const seen = invokers.map((i) => i.invocations[0]);
    expect(new Set(seen).size).toBe(3);
    expect(seen.every((s) => s !== inv && s.attachments.trace === 't1' && s.args === inv.args)).toBe(true);
    inv.cancel(new RpcError('late', RpcCode.CANCELLED));
    expect(seen.every((s) => s.cancelled === undefined)).toBe(true);
  });

  it('waits for all, then fails with the first failure’s code, a count and the addresses', async () => {
    const reset = new RpcError('connection reset', RpcCode.NETWORK);
    const business = new RpcError('cache key locked', RpcCode.SERVICE_ERROR);
    let slowDone = false;
    const invokers = [
      new FakeInvoker(url(1)),
      new FakeInvoker(url(2), { error: reset }),
      new FakeInvoker(url(3), { error: business }),
      new FakeInvoker(url(4), { handler: () => new Promise((r) => setTimeout(() => r({ value: (slowDone = true) }), 20)) }),
    ];
    const err = (await rejectionOf(new BroadcastCluster().join(fakeDirectory(invokers), fakeClusterSupport()).invoke(fakeInvocation()))) as RpcError;
    expect(slowDone).toBe(true);
    expect(err.code).toBe(RpcCode.NETWORK);
    expect(err.reason).toBe(BROADCAST_REASON);
    expect(err.cause).toBe(reset);
    expect(err.message).toContain('failed on 2 of 4 providers');
    expect(err.message).toContain('10.0.0.2:20880 (NETWORK), 10.0.0.3:20880 (SERVICE_ERROR)');
    expect(invokers.map((i) => i.calls)).toEqual([1, 1, 1, 1]);
  });

  it('keeps the business error’s name and data when it is the first failure', async () => {
    const business = new RpcError('cache key locked', RpcCode.SERVICE_ERROR, { data: { code: 'LOCKED' } });
    business.remoteName = 'LockError';
    const invokers = [new FakeInvoker(url(1), { error: business }), new FakeInvoker(url(2))];
    const err = (await rejectionOf(new BroadcastCluster().join(fakeDirectory(invokers), fakeClusterSupport()).invoke(fakeInvocation()))) as RpcError;
    expect([err.code, err.remoteName, err.data]).toEqual([RpcCode.SERVICE_ERROR, 'LockError', { code: 'LOCKED' }]);
  });

  it('names at most five failed providers and counts the rest', async () => {
    const invokers = Array.from({ length: 12 }, (_, i) => new FakeInvoker(url(i + 1), { error: new RpcError('down', RpcCode.NETWORK) }));
    const err = (await rejectionOf(new BroadcastCluster().join(fakeDirectory(invokers), fakeClusterSupport()).invoke(fakeInvocation()))) as RpcError;
    expect(err.message).toContain('failed on 12 of 12 providers');
    expect(err.message).toContain('and 7 more');
  });

  it('does not call an unavailable provider but counts it as failed', async () => {
    const [a, b] = fakeProviders([100, 100]);
    b.available = false;
    const err = (await rejectionOf(new BroadcastCluster().join(fakeDirectory([a, b]), fakeClusterSupport()).invoke(fakeInvocation()))) as RpcError;
    expect([a.calls, b.calls]).toEqual([1, 0]);
    expect(err.message).toContain('failed on 1 of 2 providers');
    expect(err.message).toContain('unavailable');
  });

  it('calls the hooks once per provider', async () => {
    const lb = new HookedLoadBalance();
    const invokers = fakeProviders([100, 100, 100]);
    await new BroadcastCluster().join(fakeDirectory(invokers), fakeClusterSupport(lb)).invoke(fakeInvocation());
    expect(invokers.map((i) => [lb.startedOn(i), lb.finishedOn(i)])).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
  });

  it('cancels every attempt when the caller’s call is cancelled, and never cancels the caller', async () => {
    const attempts: Invocation[] = [];
    const hang = (inv: Invocation) =>
      new Promise<never>((_, reject) => {
        attempts.push(inv);
        inv.addCancelListener({ onCancel: (reason) => reject(reason) });
      });
    const invokers = [1, 2].map((i) => new FakeInvoker(url(i), { handler: hang }));
    const inv = fakeInvocation();
    const call = new BroadcastCluster().join(fakeDirectory(invokers), fakeClusterSupport()).invoke(inv);
    const reason = new RpcError('deadline passed', RpcCode.TIMEOUT);
    inv.cancel(reason);
    const err = (await rejectionOf(call)) as RpcError;
    expect(attempts.every((a) => a.cancelled === reason)).toBe(true);
    expect(err.code).toBe(RpcCode.TIMEOUT);
  });
});

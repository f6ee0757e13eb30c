import { clusterContract, fakeClusterSupport, fakeDirectory, fakeExtensionContext, fakeInvocation, FakeInvoker, MemoryLogger } from '@plexus/kernel/testing';
import { RpcCode, RpcError, type Invocation, type Result } from '@plexus/kernel/spi';
import plugin, { FailsafeCluster } from '../src/failsafe-cluster';

clusterContract('failsafe', () => new FailsafeCluster(), { swallowsErrors: true });

const A = 'plexus://10.0.0.1:20880/demo.Greeter';
const B = 'plexus://10.0.0.2:20880/demo.Greeter';

describe('FailsafeCluster', () => {
  it('is the plugin default export under cluster/failsafe, built with the app logger', () => {
    expect(plugin.extensions[0]).toMatchObject({ point: 'cluster', name: 'failsafe', keys: ['sticky'] });
    expect(plugin.extensions[0].create(fakeExtensionContext())).toBeInstanceOf(FailsafeCluster);
  });

  it('turns a failure into an empty result and logs it with its code, after one attempt', async () => {
    const logger = new MemoryLogger();
    const a = new FakeInvoker(A, { error: new RpcError('connection reset', RpcCode.NETWORK) });
    const b = new FakeInvoker(B);
    const invoker = new FailsafeCluster({ logger }).join(fakeDirectory([a, b]), fakeClusterSupport());
    await expect(invoker.invoke(fakeInvocation({ settings: { retries: 2 } }))).resolves.toEqual({ value: undefined });
    expect(a.calls + b.calls).toBe(1);
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({ level: 'warn', fields: { code: 'PLEXUS_ERR_CLUSTER_FAILSAFE_IGNORED', method: 'sayHello' } });
    expect(logger.entries[0].message).toContain('NETWORK: connection reset');
  });

  it('swallows a business error and NO_PROVIDER too, logging each', async () => {
    const logger = new MemoryLogger();
    const cluster = new FailsafeCluster({ logger });
    const business = new FakeInvoker(A, { error: new RpcError('no such user', RpcCode.SERVICE_ERROR) });
    await expect(cluster.join(fakeDirectory([business]), fakeClusterSupport()).invoke(fakeInvocation())).resolves.toEqual({ value: undefined });
    await expect(cluster.join(fakeDirectory([]), fakeClusterSupport()).invoke(fakeInvocation())).resolves.toEqual({ value: undefined });
    expect(logger.entries.map((e) => e.message.includes('SERVICE_ERROR') || e.message.includes('NO_PROVIDER'))).toEqual([true, true]);
  });

  it('swallows a provider that rejects with a non-Error value without crashing', async () => {
    const logger = new MemoryLogger();
    const a = new FakeInvoker(A, { error: Symbol('odd') });
    const invoker = new FailsafeCluster({ logger }).join(fakeDirectory([a]), fakeClusterSupport());
    await expect(invoker.invoke(fakeInvocation())).resolves.toEqual({ value: undefined });
    expect(logger.entries).toHaveLength(1);
  });

  it('passes a success through untouched', async () => {
    const value = { id: 7 };
    const invoker = new FailsafeCluster().join(fakeDirectory([new FakeInvoker(A, { value })]), fakeClusterSupport());
    expect((await invoker.invoke(fakeInvocation())).value).toBe(value);
  });

  it('at the deadline (the kernel cancels with TIMEOUT) recovers the caller with the empty result and logs the TIMEOUT once', async () => {
    const logger = new MemoryLogger();
    // Hangs until cancelled, then rejects with the reason, as a protocol does.
    const a = new FakeInvoker(A, { handler: (inv: Invocation) => new Promise<Result>((_, reject) => inv.addCancelListener({ onCancel: reject })) });
    const invoker = new FailsafeCluster({ logger }).join(fakeDirectory([a]), fakeClusterSupport());
    const inv = fakeInvocation({ deadline: Date.now() + 60_000 });
    const running = invoker.invoke(inv);
    inv.cancel(new RpcError('timed out', RpcCode.TIMEOUT));
    expect(inv.recovered).toEqual({ value: undefined });
    await expect(running).resolves.toEqual({ value: undefined });
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({ level: 'warn', fields: { code: 'PLEXUS_ERR_CLUSTER_FAILSAFE_IGNORED' } });
    expect(logger.entries[0].message).toContain('TIMEOUT: timed out');

    // A caller's abort is not answered: it gets CANCELLED from the kernel.
    const aborted = fakeInvocation({ deadline: Date.now() + 60_000 });
    void invoker.invoke(aborted);
    aborted.cancel(new RpcError('aborted', RpcCode.CANCELLED));
    expect(aborted.recovered).toBeUndefined();
  });
});

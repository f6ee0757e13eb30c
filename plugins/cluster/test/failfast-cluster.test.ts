import { clusterContract, fakeClusterSupport, fakeDirectory, fakeInvocation, FakeInvoker } from '@plexus/kernel/testing';
import { RpcCode, RpcError } from '@plexus/kernel/spi';
import plugin, { FailfastCluster } from '../src/failfast-cluster';
import { NO_PROVIDER_REASON } from '../src/select';

clusterContract('failfast', () => new FailfastCluster());

describe('FailfastCluster', () => {
  it('is the plugin default export under cluster/failfast', () => {
    expect(plugin.extensions[0]).toMatchObject({ point: 'cluster', name: 'failfast' });
  });

  it('makes a single attempt even for retryable errors and retries configured', async () => {
    const error = new RpcError('reset', RpcCode.NETWORK);
    const a = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { error });
    const b = new FakeInvoker('plexus://10.0.0.2:20880/demo.Greeter');
    const invoker = new FailfastCluster().join(fakeDirectory([a, b]), fakeClusterSupport());
    const inv = fakeInvocation({ settings: { retries: 3 } });
    await expect(invoker.invoke(inv)).rejects.toBe(error);
    expect(a.calls + b.calls).toBe(1);
    expect(a.calls).toBe(1);
    // The invocation carries no per-attempt state: nothing was written to it.
    expect(Object.keys(inv)).not.toContain('tried');
  });

  it('rejects an empty directory with NO_PROVIDER and its reason', async () => {
    const invoker = new FailfastCluster().join(fakeDirectory([]), fakeClusterSupport());
    await expect(invoker.invoke(fakeInvocation())).rejects.toMatchObject({ code: RpcCode.NO_PROVIDER, reason: NO_PROVIDER_REASON });
  });

  it('skips an unavailable provider', async () => {
    const a = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { available: false });
    const b = new FakeInvoker('plexus://10.0.0.2:20880/demo.Greeter');
    const invoker = new FailfastCluster().join(fakeDirectory([a, b]), fakeClusterSupport());
    await expect(invoker.invoke(fakeInvocation())).resolves.toEqual({ value: '10.0.0.2:20880' });
  });
});

describe('FailfastCluster and the issue-9 cases', () => {
  it('surfaces a provider that times out with its code, after one invocation', async () => {
    const timeout = new RpcError('no answer from 10.0.0.1:20880 in time', RpcCode.TIMEOUT);
    const a = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { error: timeout });
    const b = new FakeInvoker('plexus://10.0.0.2:20880/demo.Greeter');
    const invoker = new FailfastCluster().join(fakeDirectory([a, b]), fakeClusterSupport());
    const err = await invoker.invoke(fakeInvocation({ settings: { retries: 2 } })).catch((e: unknown) => e);
    expect(err).toBe(timeout);
    expect((err as RpcError).code).toBe(RpcCode.TIMEOUT);
    expect(b.calls).toBe(0);
  });

  it('declares the sticky key it reads', () => {
    expect(plugin.extensions[0].keys).toEqual(['sticky']);
  });
});

describe('FailfastCluster success path', () => {
  it('hands back the provider’s own promise when the balancer has no hooks: nothing allocated per call', () => {
    const answer = Promise.resolve({ value: 'x' });
    const a = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter');
    (a as unknown as { invoke: () => Promise<unknown> }).invoke = () => answer;
    const invoker = new FailfastCluster().join(fakeDirectory([a]), fakeClusterSupport());
    expect(invoker.invoke(fakeInvocation())).toBe(answer);
  });
});

import { fakeClusterSupport, fakeDirectory, fakeInvocation, FakeInvoker, FakeLoadBalance } from '@plexus/kernel/testing';
import { RpcCode, RpcError, type Invoker } from '@plexus/kernel/spi';
import { FailoverCluster } from '../src/failover-cluster';
import { ForkingCluster } from '../src/forking-cluster';
import { BroadcastCluster } from '../src/broadcast-cluster';
import { FailbackCluster } from '../src/failback-cluster';

const A = 'plexus://10.0.0.1:20880/demo.Feed';
const B = 'plexus://10.0.0.2:20880/demo.Feed';
const network = () => new RpcError('connection reset', RpcCode.NETWORK);

async function* source() {
  yield 1;
  yield 2;
}

function support() {
  return fakeClusterSupport(new FakeLoadBalance());
}

describe('clusters and client streams (an AsyncIterable argument)', () => {
  it('failover does not send a client stream twice: the first failure reaches the caller', async () => {
    const a = new FakeInvoker(A, { error: network() });
    const b = new FakeInvoker(B, { value: 'b' });
    const invoker = new FailoverCluster().join(fakeDirectory([a, b] as Invoker[]), support());
    await expect(invoker.invoke(fakeInvocation({ args: [source()], settings: { retries: 2 } }))).rejects.toMatchObject({ code: RpcCode.NETWORK });
    expect(a.calls + b.calls).toBe(1);
    // The same failure without a stream argument is retried.
    const a2 = new FakeInvoker(A, { error: network() });
    const b2 = new FakeInvoker(B, { value: 'b' });
    const plain = new FailoverCluster().join(fakeDirectory([a2, b2] as Invoker[]), support());
    await expect(plain.invoke(fakeInvocation({ args: [1], settings: { retries: 2 } }))).resolves.toEqual({ value: 'b' });
    expect(a2.calls + b2.calls).toBe(2);
  });

  it('failback does not queue a call whose stream was already read', async () => {
    const a = new FakeInvoker(A, { error: network() });
    const cluster = new FailbackCluster();
    const invoker = cluster.join(fakeDirectory([a] as Invoker[]), support());
    await expect(invoker.invoke(fakeInvocation({ args: [source()] }))).rejects.toMatchObject({ code: RpcCode.NETWORK });
    await invoker.destroy?.();
  });

  it('forking and broadcast refuse to send one client stream to several providers, with a coded error', async () => {
    const invokers = [new FakeInvoker(A, { value: 'a' }), new FakeInvoker(B, { value: 'b' })] as Invoker[];
    const forking = new ForkingCluster().join(fakeDirectory(invokers), support());
    await expect(forking.invoke(fakeInvocation({ args: [source()], settings: { params: { forks: '2' } } }))).rejects.toMatchObject({
      code: RpcCode.BAD_REQUEST,
      reason: 'PLEXUS_ERR_CLUSTER_STREAM_FAN_OUT',
    });
    const broadcast = new BroadcastCluster().join(fakeDirectory(invokers), support());
    await expect(broadcast.invoke(fakeInvocation({ args: [source()] }))).rejects.toMatchObject({ reason: 'PLEXUS_ERR_CLUSTER_STREAM_FAN_OUT' });
    expect((invokers as FakeInvoker[]).map((i) => i.calls)).toEqual([0, 0]);
  });

  it('broadcast closes the streamed answers it does not hand to the caller', async () => {
    let closed = 0;
    const stream = () => ({
      [Symbol.asyncIterator]() {
        return { next: async () => ({ done: true as const, value: undefined }), return: async () => (closed++, { done: true as const, value: undefined }) };
      },
    });
    const a = new FakeInvoker(A, { value: stream() });
    const b = new FakeInvoker(B, { value: stream() });
    const broadcast = new BroadcastCluster().join(fakeDirectory([a, b] as Invoker[]), support());
    await broadcast.invoke(fakeInvocation({}));
    expect(closed).toBe(1);
  });
});

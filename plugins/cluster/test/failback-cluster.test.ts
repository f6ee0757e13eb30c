import {
  clusterContract,
  fakeClusterSupport,
  fakeDirectory,
  fakeExtensionContext,
  fakeInvocation,
  FakeInvoker,
  MemoryLogger,
  rejectionOf,
  waitFor,
} from '@plexus/kernel/testing';
import { PlexusError, RpcCode, RpcError, type Invocation, type Result } from '@plexus/kernel/spi';
import plugin, { backoff, DEFAULT_QUEUE_SIZE, FailbackCluster, type FailbackClusterInvoker } from '../src/failback-cluster';
import { FAILBACK_FULL_REASON } from '../src/errors';

clusterContract('failback', () => new FailbackCluster(), { defersRetryable: true });

const url = (i: number) => `plexus://10.0.0.${i}:20880/demo.Greeter`;
const network = () => new RpcError('connection reset', RpcCode.NETWORK);

/** A provider that fails `failures` times with NETWORK, then answers. */
function flaky(i: number, failures: number): FakeInvoker {
  let left = failures;
  return new FakeInvoker(url(i), {
    handler: () => {
      if (left-- > 0) throw network();
      return { value: 'delivered' };
    },
  });
}

const clusters: FailbackCluster[] = [];
function failback(options: ConstructorParameters<typeof FailbackCluster>[0] = {}): FailbackCluster {
  const c = new FailbackCluster(options);
  clusters.push(c);
  return c;
}
afterEach(() => {
  for (const c of clusters.splice(0)) c.close();
});

describe('FailbackCluster', () => {
  it('is the plugin default export under cluster/failback, with an options schema the kernel checks', () => {
    const ext = plugin.extensions[0];
    expect(ext).toMatchObject({ point: 'cluster', name: 'failback', keys: ['sticky'] });
    expect(ext.optionsSchema).toMatchObject({ additionalProperties: false });
    const made = ext.create(fakeExtensionContext({ queueSize: 7, retryInterval: 50, maxAttempts: 2 })) as FailbackCluster;
    clusters.push(made);
    expect([made.queueSize, made.retryInterval, made.maxAttempts]).toEqual([7, 50, 2]);
  });

  it('refuses unusable options in code with a coded error', () => {
    for (const bad of [{ queueSize: 0 }, { retryInterval: 1.5 }, { maxAttempts: -1 }, { queueSize: '9' as unknown as number }]) {
      let err: unknown;
      try {
        new FailbackCluster(bad);
      } catch (e) {
        err = e;
      }
      expect(PlexusError.is(err, 'PLEXUS_ERR_CLUSTER_FAILBACK_OPTION')).toBe(true);
    }
  });

  it('answers a failed call at once with an empty result, retries it on a timer and eventually delivers it', async () => {
    const provider = flaky(1, 3);
    const cluster = failback({ retryInterval: 5 });
    const invoker = cluster.join(fakeDirectory([provider]), fakeClusterSupport());
    const inv = fakeInvocation({ args: ['note'], attachments: { trace: 't9' } });
    await expect(invoker.invoke(inv)).resolves.toEqual({ value: undefined });
    expect(cluster.pending()).toBe(1);
    await waitFor(() => provider.calls === 4 && cluster.pending() === 0, 5000, 'delivery on the third retry');
    // Retries are new invocations of the same call: same arguments and attachments, own deadline.
    const retried = provider.invocations[3];
    expect(retried).not.toBe(inv);
    expect(retried.args).toEqual(['note']);
    expect(retried.attachments).toEqual({ trace: 't9' });
  });

  it('retries on another provider than the one that failed', async () => {
    const a = new FakeInvoker(url(1), { error: network() });
    const b = new FakeInvoker(url(2), { value: 'ok' });
    const cluster = failback({ retryInterval: 5 });
    await cluster.join(fakeDirectory([a, b]), fakeClusterSupport()).invoke(fakeInvocation());
    await waitFor(() => b.calls === 1 && cluster.pending() === 0, 5000, 'the retry on b');
    expect(a.calls).toBe(1);
  });

  it('rejects with a coded LIMIT_EXCEEDED error when the queue is full, never dropping silently', async () => {
    const down = new FakeInvoker(url(1), { error: network() });
    const cluster = failback({ queueSize: 2, retryInterval: 60_000 });
    const invoker = cluster.join(fakeDirectory([down]), fakeClusterSupport());
    await invoker.invoke(fakeInvocation());
    await invoker.invoke(fakeInvocation());
    const err = (await rejectionOf(invoker.invoke(fakeInvocation()))) as RpcError;
    expect(err.code).toBe(RpcCode.LIMIT_EXCEEDED);
    expect(err.reason).toBe(FAILBACK_FULL_REASON);
    expect(err.message).toContain('retry queue is full (2 calls');
    expect((err.cause as RpcError).code).toBe(RpcCode.NETWORK);
    expect(cluster.pending()).toBe(2);
  });

  it('has a default queue of 1000 calls', async () => {
    const down = new FakeInvoker(url(1), { error: network() });
    const cluster = failback();
    const invoker = cluster.join(fakeDirectory([down]), fakeClusterSupport());
    for (let i = 0; i < DEFAULT_QUEUE_SIZE; i++) await invoker.invoke(fakeInvocation());
    expect(DEFAULT_QUEUE_SIZE).toBe(1000);
    await expect(invoker.invoke(fakeInvocation())).rejects.toMatchObject({ reason: FAILBACK_FULL_REASON });
  });

  it('passes business errors, non-retryable errors and failures of idempotent: false methods through unchanged, queueing none', async () => {
    const cluster = failback({ retryInterval: 60_000 });
    const business = new RpcError('no such user', RpcCode.SERVICE_ERROR);
    const bad = new RpcError('cannot decode', RpcCode.BAD_REQUEST);
    const net = network();
    await expect(cluster.join(fakeDirectory([new FakeInvoker(url(1), { error: business })]), fakeClusterSupport()).invoke(fakeInvocation())).rejects.toBe(business);
    await expect(cluster.join(fakeDirectory([new FakeInvoker(url(1), { error: bad })]), fakeClusterSupport()).invoke(fakeInvocation())).rejects.toBe(bad);
    await expect(
      cluster.join(fakeDirectory([new FakeInvoker(url(1), { error: net })]), fakeClusterSupport()).invoke(fakeInvocation({ settings: { idempotent: false } })),
    ).rejects.toBe(net);
    expect(cluster.pending()).toBe(0);
  });

  it('does not queue a call the consumer aborted', async () => {
    const inv = fakeInvocation();
    const aborted = new RpcError('aborted', RpcCode.CANCELLED);
    const provider = new FakeInvoker(url(1), {
      handler: () => {
        inv.cancel(aborted);
        throw aborted;
      },
    });
    const cluster = failback({ retryInterval: 60_000 });
    await expect(cluster.join(fakeDirectory([provider]), fakeClusterSupport()).invoke(inv)).rejects.toBe(aborted);
    expect(cluster.pending()).toBe(0);
  });

  it('queues a call that found no provider, and delivers it once one appears', async () => {
    const directory = fakeDirectory([]);
    const cluster = failback({ retryInterval: 5 });
    await expect(cluster.join(directory, fakeClusterSupport()).invoke(fakeInvocation())).resolves.toEqual({ value: undefined });
    expect(cluster.pending()).toBe(1);
    const provider = new FakeInvoker(url(1));
    directory.invokers = [provider];
    await waitFor(() => provider.calls === 1 && cluster.pending() === 0, 5000, 'delivery to the new provider');
  });

  it('gives a call up after maxAttempts retries, logging it with its code', async () => {
    const logger = new MemoryLogger();
    const down = new FakeInvoker(url(1), { error: network() });
    const cluster = failback({ retryInterval: 2, maxAttempts: 3, logger });
    await cluster.join(fakeDirectory([down]), fakeClusterSupport()).invoke(fakeInvocation());
    await waitFor(() => cluster.pending() === 0, 5000, 'the call given up');
    expect(down.calls).toBe(4);
    const dropped = logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_CLUSTER_FAILBACK_DROPPED');
    expect(dropped).toHaveLength(1);
    expect(dropped[0].level).toBe('error');
    expect(dropped[0].message).toContain('after 3 retries');
    expect(dropped[0].message).toContain('maxAttempts (3)');
  });

  it('gives a call up when a retry fails with an error no retry can fix', async () => {
    const logger = new MemoryLogger();
    let calls = 0;
    const provider = new FakeInvoker(url(1), {
      handler: () => {
        throw calls++ === 0 ? network() : new RpcError('bad payload', RpcCode.SERIALIZATION);
      },
    });
    const cluster = failback({ retryInterval: 2, logger });
    await cluster.join(fakeDirectory([provider]), fakeClusterSupport()).invoke(fakeInvocation());
    await waitFor(() => cluster.pending() === 0, 5000, 'the call given up');
    expect(provider.calls).toBe(2);
    expect(logger.entries.find((e) => e.fields?.code === 'PLEXUS_ERR_CLUSTER_FAILBACK_DROPPED')?.message).toContain('SERIALIZATION');
  });

  it('keeps retrying with maxAttempts 0 (the default) and backs off between retries', async () => {
    const down = new FakeInvoker(url(1), { error: network() });
    const cluster = failback({ retryInterval: 10 });
    await cluster.join(fakeDirectory([down]), fakeClusterSupport()).invoke(fakeInvocation());
    const start = Date.now();
    // 10 + 20 + 40 ms of waits for three retries: no retry before its backoff.
    await waitFor(() => down.calls >= 4, 5000, 'three retries');
    expect(Date.now() - start).toBeGreaterThanOrEqual(65);
    expect(cluster.pending()).toBe(1);
    expect([backoff(10, 0), backoff(10, 1), backoff(10, 2), backoff(10, 20), backoff(120_000, 3)]).toEqual([10, 20, 40, 60_000, 120_000]);
  });

  it('times a retry out after the method timeout and queues it again', async () => {
    let calls = 0;
    const provider = new FakeInvoker(url(1), {
      handler: (inv: Invocation) => {
        calls++;
        if (calls === 1) throw network();
        if (calls === 2) {
          // The first retry hangs until its own timeout cancels it.
          return new Promise<Result>((_, reject) => inv.addCancelListener({ onCancel: reject }));
        }
        return { value: 'delivered' };
      },
    });
    const cluster = failback({ retryInterval: 2 });
    await cluster.join(fakeDirectory([provider]), fakeClusterSupport()).invoke(fakeInvocation({ settings: { timeout: 30 } }));
    await waitFor(() => calls === 3 && cluster.pending() === 0, 5000, 'delivery after a timed-out retry');
    expect(provider.invocations[1].cancelled?.code).toBe(RpcCode.TIMEOUT);
  });

  it('keeps its timer from holding the process open', async () => {
    const cluster = failback({ retryInterval: 60_000 });
    const invoker = cluster.join(fakeDirectory([new FakeInvoker(url(1), { error: network() })]), fakeClusterSupport()) as FailbackClusterInvoker;
    await invoker.invoke(fakeInvocation());
    const timer = (invoker as unknown as { timer: NodeJS.Timeout | undefined }).timer;
    expect(timer).toBeDefined();
    expect(timer!.hasRef()).toBe(false);
  });

  it('reports what was still queued when the application stops, and retries no more', async () => {
    const logger = new MemoryLogger();
    const down = new FakeInvoker(url(1), { error: network() });
    const cluster = new FailbackCluster({ retryInterval: 20, logger });
    const invoker = cluster.join(fakeDirectory([down]), fakeClusterSupport());
    await invoker.invoke(fakeInvocation());
    await invoker.invoke(fakeInvocation({ method: 'notify' }));
    await invoker.invoke(fakeInvocation({ method: 'notify' }));
    cluster.close();
    const report = logger.entries.find((e) => e.fields?.code === 'PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED');
    expect(report?.message).toContain('3 failed calls of demo.Greeter were still queued');
    expect(report?.message).toContain('sayHello (NETWORK) ×1');
    expect(report?.message).toContain('notify (NETWORK) ×2');
    expect(report?.fields?.count).toBe(3);
    expect(cluster.pending()).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(down.calls).toBe(3);
    // After close, a failure reaches the caller instead of a queue nobody retries.
    await expect(invoker.invoke(fakeInvocation())).rejects.toMatchObject({ code: RpcCode.NETWORK });
  });

  it('destroy (the kernel destroying the reference) reports what was queued, stops the timer and leaves the cluster, but not the directory', async () => {
    const logger = new MemoryLogger();
    const directory = fakeDirectory([new FakeInvoker(url(1), { error: network() })]);
    const cluster = failback({ retryInterval: 60_000, logger });
    const invoker = cluster.join(directory, fakeClusterSupport()) as FailbackClusterInvoker;
    const other = cluster.join(fakeDirectory([new FakeInvoker(url(2), { error: network() })]), fakeClusterSupport());
    await invoker.invoke(fakeInvocation());
    await invoker.invoke(fakeInvocation());
    await other.invoke(fakeInvocation());
    expect(cluster.pending()).toBe(3);
    await invoker.destroy();
    // The directory is the reference's: the kernel destroys it after its cluster invokers.
    expect(directory.destroyed).toBe(false);
    expect((invoker as unknown as { timer: NodeJS.Timeout | undefined }).timer).toBeUndefined();
    const reports = logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED');
    expect(reports).toHaveLength(1);
    expect(reports[0].message).toContain('2 failed calls of demo.Greeter were still queued');
    expect(reports[0].message).toContain('the reference was destroyed');
    // Only the other reference's call is left, and closing the cluster reports only that one.
    expect(cluster.pending()).toBe(1);
    cluster.close();
    expect(logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED').map((e) => e.fields?.count)).toEqual([2, 1]);
  });

  describe('at the deadline (the kernel cancels with TIMEOUT)', () => {
    const timeout = () => new RpcError('timed out', RpcCode.TIMEOUT, { reason: 'PLEXUS_ERR_CALL_TIMEOUT' });
    /** A provider that hangs until its call is cancelled, then rejects with the reason, as a protocol does. */
    const hanging = (i: number, then?: () => Result) => {
      let n = 0;
      return new FakeInvoker(url(i), {
        handler: (inv: Invocation) =>
          n++ === 0 ? new Promise<Result>((_, reject) => inv.addCancelListener({ onCancel: reject })) : (then?.() ?? { value: 'delivered' }),
      });
    };

    it('queues the call, recovers the caller with the empty result, and delivers it later (queued once)', async () => {
      const provider = hanging(1);
      const cluster = failback({ retryInterval: 5 });
      const inv = fakeInvocation({ deadline: Date.now() + 60_000 });
      const running = cluster.join(fakeDirectory([provider]), fakeClusterSupport()).invoke(inv);
      inv.cancel(timeout());
      expect(inv.recovered).toEqual({ value: undefined });
      expect(cluster.pending()).toBe(1);
      await expect(running).resolves.toEqual({ value: undefined });
      await waitFor(() => provider.calls === 2 && cluster.pending() === 0, 5000, 'the retry delivered');
      await new Promise((r) => setTimeout(r, 30));
      expect(provider.calls).toBe(2);
    });

    it('a full queue answers with its coded LIMIT_EXCEEDED; idempotent: false and a caller abort are left alone', async () => {
      const cluster = failback({ queueSize: 1, retryInterval: 60_000 });
      const invoker = cluster.join(fakeDirectory([hanging(1), hanging(2)]), fakeClusterSupport());
      const first = fakeInvocation({ deadline: Date.now() + 60_000 });
      void invoker.invoke(first);
      first.cancel(timeout());
      const second = fakeInvocation({ deadline: Date.now() + 60_000 });
      void invoker.invoke(second).catch(() => undefined);
      second.cancel(timeout());
      const err = (await rejectionOf(second.recovered!.value as Promise<unknown>)) as RpcError;
      expect([err.code, err.reason]).toEqual([RpcCode.LIMIT_EXCEEDED, FAILBACK_FULL_REASON]);

      const roomy = failback({ retryInterval: 60_000 });
      const once = roomy.join(fakeDirectory([hanging(3), hanging(4)]), fakeClusterSupport());
      const notIdempotent = fakeInvocation({ deadline: Date.now() + 60_000, settings: { idempotent: false } });
      void once.invoke(notIdempotent).catch(() => undefined);
      notIdempotent.cancel(timeout());
      const aborted = fakeInvocation({ deadline: Date.now() + 60_000 });
      void once.invoke(aborted).catch(() => undefined);
      aborted.cancel(new RpcError('aborted', RpcCode.CANCELLED));
      await new Promise((r) => setTimeout(r, 10));
      expect([notIdempotent.recovered, aborted.recovered, roomy.pending()]).toEqual([undefined, undefined, 0]);
    });
  });
});

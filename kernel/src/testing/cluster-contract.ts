import type { Cluster } from '../spi/cluster';
import type { Invocation } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { LoadBalance } from '../spi/loadbalance';
import { RpcCode, RpcError } from '../errors/rpc-error';
import { fakeClusterSupport, fakeDirectory, fakeInvocation, fakeProviders, FakeInvoker, FakeLoadBalance } from './fakes';

/** Switches for clusters whose policy differs from "one answer, errors pass through". */
export interface ClusterContractOptions {
  /** Every failure resolves with an empty result instead of rejecting (failsafe). */
  swallowsErrors?: boolean;
  /**
   * Retryable failures (NO_PROVIDER included) resolve with an empty result at once and are retried
   * later (failback); other failures pass through.
   */
  defersRetryable?: boolean;
  /** The policy calls several providers per call (broadcast, forking): checks that count calls use one provider. */
  fansOut?: boolean;
  /** The policy chooses without the load balancer (available): only its hooks are checked. */
  ignoresBalancer?: boolean;
}

/**
 * A load balancer with attempt hooks that records, per provider, how often each hook ran, and
 * checks that `finished` follows a `started` of the same provider. Picks like `FakeLoadBalance`.
 */
export class HookedLoadBalance extends FakeLoadBalance implements LoadBalance {
  readonly startedCount = new Map<Invoker, number>();
  readonly finishedCount = new Map<Invoker, number>();
  /** `finished` calls that had no open `started` (must stay empty). */
  readonly unmatched: Invoker[] = [];
  readonly failures: boolean[] = [];

  started(invoker: Invoker, _invocation: Invocation): void {
    this.startedCount.set(invoker, (this.startedCount.get(invoker) ?? 0) + 1);
  }

  finished(invoker: Invoker, _invocation: Invocation, elapsedMs: number, failed: boolean): void {
    const open = (this.startedCount.get(invoker) ?? 0) - (this.finishedCount.get(invoker) ?? 0);
    if (open <= 0 || !(elapsedMs >= 0)) this.unmatched.push(invoker);
    this.finishedCount.set(invoker, (this.finishedCount.get(invoker) ?? 0) + 1);
    this.failures.push(failed);
  }

  startedOn(invoker: Invoker): number {
    return this.startedCount.get(invoker) ?? 0;
  }

  finishedOn(invoker: Invoker): number {
    return this.finishedCount.get(invoker) ?? 0;
  }
}

/** Settles `promise` into what it resolved or rejected with, for checks that depend on the policy. */
async function outcome(promise: Promise<unknown>): Promise<{ ok: boolean; value: unknown }> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (value: unknown) => ({ ok: false, value }),
  );
}

/**
 * The behaviour every cluster shares. Call it at the top level of a test file:
 * `clusterContract('failover', () => new FailoverCluster())`. Uses fake providers and a load
 * balancer that picks the first candidate, so outcomes do not depend on chance. Each cluster
 * created is closed after its test (`close()` or `destroy()`, as the kernel's scope does), so
 * policies with timers (failback) leave nothing behind.
 */
export function clusterContract(name: string, create: () => Cluster, options: ClusterContractOptions = {}): void {
  const providers = (n: number) => fakeProviders(options.fansOut ? [100] : new Array<number>(n).fill(100));
  const created: Cluster[] = [];
  const make = (): Cluster => {
    const c = create();
    created.push(c);
    return c;
  };
  const swallows = (retryable: boolean) => options.swallowsErrors === true || (retryable && options.defersRetryable === true);

  describe(`cluster contract: ${name}`, () => {
    afterEach(async () => {
      for (const c of created.splice(0)) {
        const closable = c as { close?: () => unknown; destroy?: () => unknown };
        if (typeof closable.close === 'function') await closable.close();
        else if (typeof closable.destroy === 'function') await closable.destroy();
      }
    });

    it('joins into an invoker whose url is the directory url', () => {
      const directory = fakeDirectory(fakeProviders([100]));
      const invoker = make().join(directory, fakeClusterSupport());
      expect(invoker.url).toBe(directory.url);
    });

    it('passes a successful value through', async () => {
      const value = { greeting: 'hello ada' };
      const invokers = providers(2).map((p) => new FakeInvoker(p.url, { value }));
      const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport());
      const result = await invoker.invoke(fakeInvocation());
      expect(result.value).toBe(value);
      expect(invokers.reduce((n, i) => n + i.calls, 0)).toBe(options.fansOut ? invokers.length : 1);
    });

    it('passes a business error (SERVICE_ERROR) through unchanged, invoking it exactly once', async () => {
      const error = new RpcError('name must not be empty', RpcCode.SERVICE_ERROR);
      error.remoteName = 'ValidationError';
      const invokers = providers(3).map((p) => new FakeInvoker(p.url, { error }));
      const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport());
      const call = invoker.invoke(fakeInvocation({ settings: { retries: 2 } }));
      if (options.swallowsErrors) await expect(call).resolves.toBeDefined();
      else await expect(call).rejects.toBe(error);
      expect(error.message).toBe('name must not be empty');
      expect(invokers.reduce((n, i) => n + i.calls, 0)).toBe(1);
    });

    it('twenty business errors cost exactly twenty invocations', async () => {
      const error = new RpcError('out of stock', RpcCode.SERVICE_ERROR);
      const invokers = providers(3).map((p) => new FakeInvoker(p.url, { error }));
      const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport());
      for (let i = 0; i < 20; i++) await outcome(invoker.invoke(fakeInvocation({ settings: { retries: 2 } })));
      expect(invokers.reduce((n, i) => n + i.calls, 0)).toBe(20);
    });

    it('rejects (never throws) with a coded NO_PROVIDER on an empty directory', async () => {
      const invoker = make().join(fakeDirectory([]), fakeClusterSupport());
      let call: Promise<unknown> | undefined;
      expect(() => {
        call = invoker.invoke(fakeInvocation());
      }).not.toThrow();
      const { ok, value } = await outcome(call!);
      if (swallows(true)) {
        expect(ok).toBe(true);
        return;
      }
      expect(ok).toBe(false);
      expect(RpcError.is(value)).toBe(true);
      expect((value as RpcError).code).toBe(RpcCode.NO_PROVIDER);
      expect((value as RpcError).reason).toBe('PLEXUS_ERR_CLUSTER_NO_PROVIDER');
      expect((value as RpcError).message).toContain('demo.Greeter');
    });

    it('asks the load balancer when there is a choice', async () => {
      const lb = new FakeLoadBalance((invokers) => invokers[invokers.length - 1]);
      const invokers = providers(3);
      const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport(lb));
      await invoker.invoke(fakeInvocation());
      if (!options.fansOut && !options.ignoresBalancer) {
        expect(lb.selections).toBeGreaterThan(0);
        expect(invokers[invokers.length - 1].calls).toBe(1);
      }
    });

    it('skips providers that report themselves unavailable', async () => {
      // Two providers even for fan-out policies: the unavailable one must not be called.
      const [a, b] = fakeProviders([100, 100]);
      a.available = false;
      const invoker = make().join(fakeDirectory([a, b]), fakeClusterSupport());
      const { ok, value } = await outcome(invoker.invoke(fakeInvocation()));
      expect(a.calls).toBe(0);
      expect(b.calls).toBe(1);
      if (!options.fansOut) {
        expect(ok).toBe(true);
        expect((value as { value: unknown }).value).toBe(b.url.address);
      }
    });

    it('calls the balancer hooks exactly once per attempt, around it, on success and on failure', async () => {
      const business = new RpcError('no such user', RpcCode.SERVICE_ERROR);
      const network = new RpcError('connection reset', RpcCode.NETWORK);
      for (const error of [undefined, business, network]) {
        const lb = new HookedLoadBalance();
        const invokers = providers(3).map((p) => new FakeInvoker(p.url, error === undefined ? {} : { error }));
        const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport(lb));
        await outcome(invoker.invoke(fakeInvocation({ settings: { retries: 2 } })));
        for (const i of invokers) {
          expect(lb.startedOn(i)).toBe(i.calls);
          expect(lb.finishedOn(i)).toBe(i.calls);
        }
        expect(invokers.reduce((n, i) => n + i.calls, 0)).toBeGreaterThan(0);
        expect(lb.unmatched).toEqual([]);
        // A business error is an answer, not a failure of the provider.
        expect(lb.failures.length).toBeGreaterThan(0);
        expect(lb.failures.every((f) => f === (error === network))).toBe(true);
      }
    });

    it('starts no attempt for a call already cancelled (its deadline passed)', async () => {
      const invokers = providers(2);
      const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport());
      const inv = fakeInvocation({ settings: { retries: 2 } });
      const reason = new RpcError('deadline passed', RpcCode.TIMEOUT);
      inv.cancel(reason);
      await expect(invoker.invoke(inv)).rejects.toBe(reason);
      expect(invokers.reduce((n, i) => n + i.calls, 0)).toBe(0);
    });

    it('starts no further attempt once the deadline has passed', async () => {
      const inv = fakeInvocation({ settings: { retries: 5, timeout: 60_000 }, deadline: Date.now() + 60_000 });
      // Every provider fails retryably and, while doing so, the call's deadline passes (the kernel cancels it).
      const invokers = providers(3).map(
        (p) =>
          new FakeInvoker(p.url, {
            handler: () => {
              (inv as unknown as { deadline: number }).deadline = Date.now() - 1;
              inv.cancel(new RpcError('deadline passed', RpcCode.TIMEOUT));
              throw new RpcError('timed out', RpcCode.TIMEOUT);
            },
          }),
      );
      const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport());
      const { ok, value } = await outcome(invoker.invoke(inv));
      expect(invokers.reduce((n, i) => n + i.calls, 0)).toBe(options.fansOut ? invokers.length : 1);
      if (!swallows(true)) {
        expect(ok).toBe(false);
        expect((value as RpcError).code).toBe(RpcCode.TIMEOUT);
      }
    });

    if (!options.fansOut) {
      it('with sticky on, stays on one provider until it becomes unavailable', async () => {
        let turn = 0;
        // A balancer that would move on every call: only stickiness keeps the provider.
        const lb = new FakeLoadBalance((invokers) => invokers[turn++ % invokers.length]);
        const invokers = providers(3);
        const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport(lb));
        const call = () => invoker.invoke(fakeInvocation({ settings: { params: { sticky: 'true' } } }));
        for (let i = 0; i < 5; i++) await call();
        const first = invokers.find((i) => i.calls > 0)!;
        expect(first.calls).toBe(5);
        first.available = false;
        for (let i = 0; i < 5; i++) await call();
        const second = invokers.find((i) => i !== first && i.calls > 0)!;
        expect(second.calls).toBe(5);
        expect(first.calls).toBe(5);
      });
    }

    it('serves concurrent calls independently', async () => {
      const invokers = providers(2).map((p) => new FakeInvoker(p.url, { handler: (inv) => ({ value: inv.args[0] }) }));
      const invoker = make().join(fakeDirectory(invokers), fakeClusterSupport());
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => invoker.invoke(fakeInvocation({ args: [i] }))));
      expect(results.map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });
  });
}

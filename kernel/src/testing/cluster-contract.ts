import type { Cluster } from '../spi/cluster';
import { RpcCode, RpcError } from '../errors/rpc-error';
import { fakeClusterSupport, fakeDirectory, fakeInvocation, fakeProviders, FakeInvoker, FakeLoadBalance } from './fakes';

/** Switches for clusters whose policy differs from "one answer, errors pass through". */
export interface ClusterContractOptions {
  /** The policy swallows failures (failsafe, failback): errors resolve instead of rejecting. */
  swallowsErrors?: boolean;
  /** The policy calls every provider (broadcast, forking): checks then use a single provider. */
  fansOut?: boolean;
}

/**
 * The behaviour every cluster shares. Call it at the top level of a test file:
 * `clusterContract('failover', () => new FailoverCluster())`. Uses fake providers and a load
 * balancer that picks the first candidate, so outcomes do not depend on chance.
 */
export function clusterContract(name: string, create: () => Cluster, options: ClusterContractOptions = {}): void {
  const providers = (n: number) => fakeProviders(options.fansOut ? [100] : new Array<number>(n).fill(100));

  describe(`cluster contract: ${name}`, () => {
    it('joins into an invoker whose url is the directory url', () => {
      const directory = fakeDirectory(fakeProviders([100]));
      const invoker = create().join(directory, fakeClusterSupport());
      expect(invoker.url).toBe(directory.url);
    });

    it('passes a successful value through', async () => {
      const value = { greeting: 'hello ada' };
      const invokers = providers(2).map((p) => new FakeInvoker(p.url, { value }));
      const invoker = create().join(fakeDirectory(invokers), fakeClusterSupport());
      const result = await invoker.invoke(fakeInvocation());
      expect(result.value).toBe(value);
      expect(invokers.reduce((n, i) => n + i.calls, 0)).toBe(options.fansOut ? invokers.length : 1);
    });

    it('passes a business error (SERVICE_ERROR) through unchanged, invoking it exactly once', async () => {
      const error = new RpcError('name must not be empty', RpcCode.SERVICE_ERROR);
      error.remoteName = 'ValidationError';
      const invokers = providers(3).map((p) => new FakeInvoker(p.url, { error }));
      const invoker = create().join(fakeDirectory(invokers), fakeClusterSupport());
      const call = invoker.invoke(fakeInvocation({ settings: { retries: 2 } }));
      if (options.swallowsErrors) await expect(call).resolves.toBeDefined();
      else await expect(call).rejects.toBe(error);
      expect(error.message).toBe('name must not be empty');
      expect(invokers.reduce((n, i) => n + i.calls, 0)).toBe(1);
    });

    it('rejects (never throws) with NO_PROVIDER on an empty directory', async () => {
      const invoker = create().join(fakeDirectory([]), fakeClusterSupport());
      let call: Promise<unknown> | undefined;
      expect(() => {
        call = invoker.invoke(fakeInvocation());
      }).not.toThrow();
      if (options.swallowsErrors) {
        await expect(call).resolves.toBeDefined();
        return;
      }
      const err = await (call as Promise<unknown>).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(RpcError.is(err)).toBe(true);
      expect((err as RpcError).code).toBe(RpcCode.NO_PROVIDER);
      expect((err as RpcError).message).toContain('demo.Greeter');
    });

    it('asks the load balancer when there is a choice', async () => {
      const lb = new FakeLoadBalance((invokers) => invokers[invokers.length - 1]);
      const invokers = providers(3);
      const invoker = create().join(fakeDirectory(invokers), fakeClusterSupport(lb));
      await invoker.invoke(fakeInvocation());
      if (!options.fansOut) {
        expect(lb.selections).toBeGreaterThan(0);
        expect(invokers[invokers.length - 1].calls).toBe(1);
      }
    });

    it('serves concurrent calls independently', async () => {
      const invokers = providers(2).map((p) => new FakeInvoker(p.url, { handler: (inv) => ({ value: inv.args[0] }) }));
      const invoker = create().join(fakeDirectory(invokers), fakeClusterSupport());
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => invoker.invoke(fakeInvocation({ args: [i] }))));
      expect(results.map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });
  });
}

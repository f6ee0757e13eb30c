import { definePlugin, type Cluster, type ClusterSupport, type Directory, type Invocation, type Invoker, type LoadBalance, type Result } from '@plexus/kernel/spi';
import { AbstractClusterInvoker, type ClusterOptions } from './abstract-cluster-invoker';
import { firstAvailable, noProviderError } from './select';

/**
 * Available: the first provider in the directory's order that reports itself available, with no
 * balancing and one attempt; NO_PROVIDER when none is available. For a primary/standby pair,
 * where the order of the list (routers, a direct `url:` list) says which one to prefer. The load
 * balancer is still told of each attempt (its `started`/`finished` hooks), never asked to choose.
 * Scope: one instance per application; stateless.
 */
export class AvailableCluster implements Cluster {
  constructor(private readonly options: ClusterOptions = {}) {}

  join(directory: Directory, support: ClusterSupport): Invoker {
    return new AvailableClusterInvoker(directory, support, this.options);
  }
}

/** The invoker `AvailableCluster.join` returns; allocates nothing of its own per call. */
export class AvailableClusterInvoker extends AbstractClusterInvoker {
  protected doInvoke(invocation: Invocation): Promise<Result> {
    const invokers = this.list(invocation);
    const lb = this.support.loadBalance(invocation);
    return this.attempt(lb, this.select(lb, invokers, invocation), invocation);
  }

  /** The first available provider; throws NO_PROVIDER when none is (no fallback to unavailable ones). */
  protected override pick(_lb: LoadBalance, invokers: readonly Invoker[], invocation: Invocation): Invoker {
    const found = firstAvailable(invokers);
    if (found === undefined) {
      throw noProviderError(this.directory, invocation, ` (all ${invokers.length} listed provider${invokers.length === 1 ? ' is' : 's are'} unavailable)`);
    }
    return found;
  }
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [{ point: 'cluster', name: 'available', keys: ['sticky'], create: (ctx) => new AvailableCluster({ logger: ctx?.logger }) }],
});

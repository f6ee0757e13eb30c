import { definePlugin, type Cluster, type ClusterSupport, type Directory, type Invocation, type Invoker, type Result, type URL } from '@plexus/kernel/spi';
import { choose, noProviderError } from './select';

/**
 * Failfast: one attempt, and any failure goes straight back to the caller. For calls that must not
 * be repeated (non-idempotent writes) or that are cheaper to fail than to retry.
 * Scope: one instance per application; stateless.
 */
export class FailfastCluster implements Cluster {
  join(directory: Directory, support: ClusterSupport): Invoker {
    return new FailfastClusterInvoker(directory, support);
  }
}

/** The invoker `FailfastCluster.join` returns; allocates nothing of its own per call. */
export class FailfastClusterInvoker implements Invoker {
  readonly url: URL;

  constructor(
    private readonly directory: Directory,
    private readonly support: ClusterSupport,
  ) {
    this.url = directory.url;
  }

  invoke(invocation: Invocation): Promise<Result> {
    try {
      const invokers = this.directory.list(invocation);
      if (invokers.length === 0) return Promise.reject(noProviderError(this.directory, invocation));
      const invoker = choose(this.support.loadBalance(invocation), invokers, invocation);
      return invoker.invoke(invocation);
    } catch (err) {
      // Directories, balancers and invokers should not throw; if one does, the caller still gets a rejection.
      return Promise.reject(err);
    }
  }

  isAvailable(): boolean {
    return this.directory.isAvailable();
  }

  destroy(): Promise<void> {
    return this.directory.destroy();
  }
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [{ point: 'cluster', name: 'failfast', create: () => new FailfastCluster() }],
});

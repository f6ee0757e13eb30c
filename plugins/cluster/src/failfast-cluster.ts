import { definePlugin, type Cluster, type ClusterSupport, type Directory, type Invocation, type Invoker, type Result } from '@plexus/kernel/spi';
import { AbstractClusterInvoker, type ClusterOptions } from './abstract-cluster-invoker';

/**
 * Failfast: one attempt, and any failure goes straight back to the caller. For calls that must not
 * be repeated (non-idempotent writes) or that are cheaper to fail than to retry.
 * Scope: one instance per application; stateless.
 */
export class FailfastCluster implements Cluster {
  constructor(private readonly options: ClusterOptions = {}) {}

  join(directory: Directory, support: ClusterSupport): Invoker {
    return new FailfastClusterInvoker(directory, support, this.options);
  }
}

/** The invoker `FailfastCluster.join` returns; allocates nothing of its own per call. */
export class FailfastClusterInvoker extends AbstractClusterInvoker {
  protected doInvoke(invocation: Invocation): Promise<Result> {
    const invokers = this.list(invocation);
    const lb = this.support.loadBalance(invocation);
    return this.attempt(lb, this.select(lb, invokers, invocation), invocation);
  }
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [{ point: 'cluster', name: 'failfast', keys: ['sticky'], create: (ctx) => new FailfastCluster({ logger: ctx?.logger }) }],
});

import { definePlugin, type Cluster, type ClusterSupport, type Directory, type Invocation, type Invoker, type Result } from '@plexus/kernel/spi';
import { AbstractClusterInvoker, EMPTY_RESULT, type ClusterOptions } from './abstract-cluster-invoker';
import { ClusterErrors, describe } from './errors';

/**
 * Failsafe: one attempt; a failure of any kind (business errors and NO_PROVIDER included) is
 * logged with the code PLEXUS_ERR_CLUSTER_FAILSAFE_IGNORED and the caller gets an empty result
 * (`value: undefined`). For calls whose failure must never disturb the caller: audit trails,
 * metrics, best-effort notifications. Scope: one instance per application; stateless.
 */
export class FailsafeCluster implements Cluster {
  constructor(private readonly options: ClusterOptions = {}) {}

  join(directory: Directory, support: ClusterSupport): Invoker {
    return new FailsafeClusterInvoker(directory, support, this.options);
  }
}

/** The invoker `FailsafeCluster.join` returns. */
export class FailsafeClusterInvoker extends AbstractClusterInvoker {
  protected doInvoke(invocation: Invocation): Promise<Result> {
    const invokers = this.list(invocation);
    const lb = this.support.loadBalance(invocation);
    return this.attempt(lb, this.select(lb, invokers, invocation), invocation).then(undefined, (err: unknown) => this.ignore(err, invocation));
  }

  protected override onThrown(err: unknown, invocation: Invocation): Promise<Result> {
    return Promise.resolve(this.ignore(err, invocation));
  }

  private ignore(err: unknown, invocation: Invocation): Result {
    const e = ClusterErrors.FAILSAFE_IGNORED(invocation, describe(err));
    this.logger?.warn(e.message, { code: e.code, service: invocation.serviceKey || invocation.service, method: invocation.method });
    return EMPTY_RESULT;
  }
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [{ point: 'cluster', name: 'failsafe', keys: ['sticky'], create: (ctx) => new FailsafeCluster({ logger: ctx?.logger }) }],
});

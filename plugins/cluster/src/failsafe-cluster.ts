import { definePlugin, RpcCode, type CancelListener, type Cluster, type ClusterSupport, type Directory, type Invocation, type Invoker, type Result, type RpcError } from '@plexus/kernel/spi';
import { AbstractClusterInvoker, EMPTY_RESULT, type ClusterOptions } from './abstract-cluster-invoker';
import { ClusterErrors, describe } from './errors';

/**
 * Failsafe: one attempt; a failure of any kind (business errors and NO_PROVIDER included) is
 * logged with the code PLEXUS_ERR_CLUSTER_FAILSAFE_IGNORED and the caller gets an empty result
 * (`value: undefined`). A call still running at its deadline is answered the same way: the
 * kernel's TIMEOUT cancel is heard and `invocation.recover` gives the caller the empty result (and
 * the TIMEOUT is logged like any failure). For calls whose failure must never disturb the caller:
 * audit trails, metrics, best-effort notifications. Scope: one instance per application; stateless.
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
    const invoker = this.select(lb, invokers, invocation);
    if (invocation.deadline <= 0) return this.attempt(lb, invoker, invocation).then(undefined, (err: unknown) => this.ignore(err, invocation));
    const atDeadline = new IgnoreAtDeadline(this, invocation);
    invocation.addCancelListener(atDeadline);
    return this.attempt(lb, invoker, invocation).then(
      (result) => {
        invocation.removeCancelListener(atDeadline);
        return result;
      },
      (err: unknown) => {
        invocation.removeCancelListener(atDeadline);
        // Answered (and logged) at the deadline already: the attempt's late failure is not logged twice.
        return atDeadline.heard ? EMPTY_RESULT : this.ignore(err, invocation);
      },
    );
  }

  protected override onThrown(err: unknown, invocation: Invocation): Promise<Result> {
    return Promise.resolve(this.ignore(err, invocation));
  }

  /** @internal Logs a failure and gives the empty result. */
  ignore(err: unknown, invocation: Invocation): Result {
    const e = ClusterErrors.FAILSAFE_IGNORED(invocation, describe(err));
    this.logger?.warn(e.message, { code: e.code, service: invocation.serviceKey || invocation.service, method: invocation.method });
    return EMPTY_RESULT;
  }
}

/** Hears the kernel's TIMEOUT cancel of one call: logs it and answers the caller with the empty result. */
class IgnoreAtDeadline implements CancelListener {
  heard = false;

  constructor(
    private readonly owner: FailsafeClusterInvoker,
    private readonly invocation: Invocation,
  ) {}

  onCancel(reason: RpcError): void {
    // The caller's own abort wants no answer: it gets CANCELLED.
    if (reason.code !== RpcCode.TIMEOUT) return;
    this.heard = true;
    this.invocation.recover(this.owner.ignore(reason, this.invocation));
  }
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [{ point: 'cluster', name: 'failsafe', keys: ['sticky'], create: (ctx) => new FailsafeCluster({ logger: ctx?.logger }) }],
});

import { definePlugin, type Cluster, type ClusterSupport, type Directory, type Invocation, type Invoker, type LoadBalance, type Result } from '@plexus/kernel/spi';
import { AbstractClusterInvoker, attemptOf, releaseAttempt, type ClusterOptions } from './abstract-cluster-invoker';
import { forkLostError, sendsStream, streamFanOutError } from './errors';
import { forksOf } from './params';

/**
 * Forking: calls `forks` providers at once (default 2, Dubbo's), the first success wins and the
 * other attempts are cancelled (reason PLEXUS_ERR_CLUSTER_FORK_LOST, so protocols tell their
 * providers to stop); when every attempt fails, the caller gets the error of the last one to fail,
 * unchanged. For latency-critical reads, at the price of `forks` times the load. Unavailable
 * providers are not forked to; with one usable provider this is a single attempt.
 * Scope: one instance per application; stateless.
 */
export class ForkingCluster implements Cluster {
  constructor(private readonly options: ClusterOptions = {}) {}

  join(directory: Directory, support: ClusterSupport): Invoker {
    return new ForkingClusterInvoker(directory, support, this.options);
  }
}

/** The invoker `ForkingCluster.join` returns. */
export class ForkingClusterInvoker extends AbstractClusterInvoker {
  protected doInvoke(invocation: Invocation): Promise<Result> {
    const invokers = this.list(invocation);
    const lb = this.support.loadBalance(invocation);
    const first = this.select(lb, invokers, invocation);
    const want = Math.min(forksOf(invocation.settings, this.logger), invokers.length);
    if (want === 1) return this.attempt(lb, first, invocation);
    if (sendsStream(invocation)) return Promise.reject(streamFanOutError(invocation, 'forking'));
    const chosen: Invoker[] = [first];
    while (chosen.length < want) {
      const next = this.pick(lb, invokers, invocation, chosen);
      // Only unusable or already chosen providers are left: fork to fewer.
      if (chosen.includes(next) || next.isAvailable?.() === false) break;
      chosen.push(next);
    }
    return chosen.length === 1 ? this.attempt(lb, first, invocation) : this.race(lb, chosen, invocation);
  }

  /** Runs one attempt per provider, each on its own invocation; settles with the first success or the last failure. */
  private race(lb: LoadBalance, chosen: readonly Invoker[], invocation: Invocation): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const attempts = chosen.map(() => attemptOf(invocation));
      const settled = new Array<boolean>(chosen.length).fill(false);
      let pending = chosen.length;
      let done = false;
      chosen.forEach((invoker, i) => {
        const attempt = attempts[i];
        const finish = (): void => {
          settled[i] = true;
          pending--;
          releaseAttempt(invocation, attempt);
        };
        this.attempt(lb, invoker, attempt).then(
          (result) => {
            finish();
            if (done) return;
            done = true;
            resolve(result);
            const lost = forkLostError(invocation);
            for (let j = 0; j < attempts.length; j++) if (!settled[j]) attempts[j].cancel(lost);
          },
          (err: unknown) => {
            finish();
            if (done || pending > 0) return;
            done = true;
            reject(err);
          },
        );
      });
    });
  }
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [{ point: 'cluster', name: 'forking', keys: ['forks', 'sticky'], create: (ctx) => new ForkingCluster({ logger: ctx?.logger }) }],
});

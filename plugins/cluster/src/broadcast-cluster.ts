import {
  definePlugin,
  isAsyncIterable,
  RpcCode,
  RpcError,
  type Cluster,
  type ClusterSupport,
  type Directory,
  type Invocation,
  type Invoker,
  type LoadBalance,
  type Result,
} from '@plexus/kernel/spi';
import { AbstractClusterInvoker, attemptOf, releaseAttempt, type ClusterOptions } from './abstract-cluster-invoker';
import { BROADCAST_REASON, describe, sendsStream, streamFanOutError } from './errors';
import { usable } from './select';

/** Failed providers named in a broadcast error; the rest are counted (100 providers must not make a 100-line message). */
const NAMED_FAILURES = 5;

/**
 * Broadcast: calls every provider in the list at once and waits for all of them. Succeeds with
 * the first provider's result (list order) when all succeed; when any fails, rejects with the
 * error of the first one that failed (list order) and the count — or, when the list held one
 * provider, with its error unchanged. A provider that reports itself unavailable is not called
 * and counts as failed: "all" means all, and the caller must learn that one was missed.
 * For notifying every provider (refresh a cache, reload config). Scope: one instance per
 * application; stateless.
 */
export class BroadcastCluster implements Cluster {
  constructor(private readonly options: ClusterOptions = {}) {}

  join(directory: Directory, support: ClusterSupport): Invoker {
    return new BroadcastClusterInvoker(directory, support, this.options);
  }
}

/** The invoker `BroadcastCluster.join` returns. */
export class BroadcastClusterInvoker extends AbstractClusterInvoker {
  protected doInvoke(invocation: Invocation): Promise<Result> {
    const invokers = this.list(invocation);
    const lb = this.support.loadBalance(invocation);
    if (invokers.length === 1) {
      const only = invokers[0];
      return usable(only) ? this.attempt(lb, only, invocation) : Promise.reject(unavailable(only));
    }
    if (sendsStream(invocation)) return Promise.reject(streamFanOutError(invocation, 'broadcast'));
    return this.all(lb, invokers, invocation);
  }

  private all(lb: LoadBalance, invokers: readonly Invoker[], invocation: Invocation): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const results = new Array<Result | undefined>(invokers.length);
      const errors = new Array<unknown>(invokers.length);
      let pending = invokers.length;
      let failed = 0;
      const settle = (): void => {
        if (--pending > 0) return;
        // Streamed answers nobody will read are closed, so their providers stop producing.
        for (let j = failed === 0 ? 1 : 0; j < results.length; j++) closeStream(results[j]);
        if (failed === 0) resolve(results[0]!);
        else reject(summary(invocation, invokers, errors, failed));
      };
      invokers.forEach((invoker, i) => {
        if (!usable(invoker)) {
          errors[i] = unavailable(invoker);
          failed++;
          settle();
          return;
        }
        const attempt = attemptOf(invocation);
        this.attempt(lb, invoker, attempt).then(
          (result) => {
            releaseAttempt(invocation, attempt);
            results[i] = result;
            settle();
          },
          (err: unknown) => {
            releaseAttempt(invocation, attempt);
            errors[i] = err;
            failed++;
            settle();
          },
        );
      });
    });
  }
}

function closeStream(result: Result | undefined): void {
  const value = result?.value;
  if (isAsyncIterable(value)) {
    const it = value[Symbol.asyncIterator]();
    if (typeof it.return === 'function') void Promise.resolve(it.return()).catch(() => undefined);
  }
}

function unavailable(invoker: Invoker): RpcError {
  return new RpcError(`provider ${invoker.url.address} is unavailable (not connected or shutting down) and was not called`, RpcCode.NETWORK, {
    remote: invoker.url.address,
  });
}

/** The error of the first failed provider (list order), with how many failed and which. */
function summary(invocation: Invocation, invokers: readonly Invoker[], errors: readonly unknown[], failed: number): RpcError {
  const named: string[] = [];
  let first: unknown;
  for (let i = 0; i < invokers.length; i++) {
    if (errors[i] === undefined) continue;
    if (first === undefined) first = errors[i];
    if (named.length < NAMED_FAILURES) named.push(`${invokers[i].url.address} (${RpcError.is(errors[i]) ? (errors[i] as RpcError).code : 'error'})`);
  }
  const more = failed > named.length ? ` and ${failed - named.length} more` : '';
  const base = RpcError.from(first);
  const err = new RpcError(
    `Broadcast of ${invocation.serviceKey || invocation.service}.${invocation.method} failed on ${failed} of ${invokers.length} providers: ` +
      `${named.join(', ')}${more}. First error: ${describe(first)}`,
    base.code,
    { retryable: base.retryable, cause: first, data: base.data, reason: BROADCAST_REASON, remote: base.remote },
  );
  if (base.remoteName !== undefined) err.remoteName = base.remoteName;
  return err;
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [{ point: 'cluster', name: 'broadcast', keys: ['sticky'], create: (ctx) => new BroadcastCluster({ logger: ctx?.logger }) }],
});

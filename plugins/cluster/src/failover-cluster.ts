import {
  definePlugin,
  RpcError,
  type Cluster,
  type ClusterSupport,
  type Directory,
  type Invocation,
  type Invoker,
  type LoadBalance,
  type Result,
} from '@plexus/kernel/spi';
import { AbstractClusterInvoker, type ClusterOptions } from './abstract-cluster-invoker';
import { isRetryable, sendsStream } from './errors';

/**
 * Failover (Dubbo's default policy): when a call fails with a retryable error (network, timeout,
 * executor exhausted, shutting down, no provider), try another provider, up to `retries` more
 * times, while the call's deadline has not passed. Business errors (`SERVICE_ERROR`) and other
 * non-retryable errors pass through unchanged at once, and a method with `idempotent: false` is
 * never retried. Scope: one instance per application; stateless.
 */
export class FailoverCluster implements Cluster {
  constructor(private readonly options: ClusterOptions = {}) {}

  join(directory: Directory, support: ClusterSupport): Invoker {
    return new FailoverClusterInvoker(directory, support, this.options);
  }
}

/**
 * The invoker `FailoverCluster.join` returns; one per reference (and method policy), called
 * concurrently. The first attempt allocates one rejection handler (none with `retries: 0`); the
 * list of tried providers is only created when a retry happens.
 */
export class FailoverClusterInvoker extends AbstractClusterInvoker {
  protected doInvoke(invocation: Invocation): Promise<Result> {
    const invokers = this.list(invocation);
    const lb = this.support.loadBalance(invocation);
    const invoker = this.select(lb, invokers, invocation);
    const settings = invocation.settings;
    const retries = settings.idempotent === false || !(settings.retries > 0) ? 0 : Math.floor(settings.retries);
    // Without retries there is nothing to watch for: hand back the attempt's own promise.
    if (retries === 0) return this.attempt(lb, invoker, invocation);
    // A rejection handler instead of an async frame: on success the result flows through one derived promise.
    return this.attempt(lb, invoker, invocation).then(undefined, (err: unknown) => {
      // A client stream was read by the first attempt: it cannot be sent again.
      if (!isRetryable(err) || sendsStream(invocation)) throw err;
      return this.failover(err, invoker, lb, invocation, retries + 1);
    });
  }

  /** The retry path: attempts 2..n on providers not tried yet. */
  private async failover(first: RpcError, firstInvoker: Invoker, lb: LoadBalance, invocation: Invocation, attempts: number): Promise<Result> {
    // Per-attempt state lives here, never on the invocation: concurrent attempts cannot race on it.
    const tried: Invoker[] = [firstInvoker];
    const errors: RpcError[] = [first];
    let last = first;
    let stop: string | undefined;
    for (let attempt = 2; attempt <= attempts; attempt++) {
      stop = this.stopReason(invocation);
      if (stop !== undefined) break;
      const invokers = this.directory.list(invocation);
      if (invokers.length === 0) {
        stop = 'no provider is left';
        break;
      }
      const invoker = this.select(lb, invokers, invocation, tried);
      try {
        return await this.attempt(lb, invoker, invocation);
      } catch (err) {
        tried.push(invoker);
        if (!isRetryable(err)) throw err;
        errors.push(err);
        last = err;
      }
    }
    throw exhausted(last, invocation, tried, errors, stop);
  }
}

/** A message without its `hint:` lines, and those hints. */
function splitHint(message: string): { text: string; hints: string[] } {
  const parts = message.split(/\n\s*hint: /);
  return { text: parts[0], hints: parts.slice(1).map((h) => h.trim()) };
}

/**
 * The last error, with every attempt in its message: each distinct failure once (so a cause such
 * as ECONNREFUSED seen on the first attempt is not lost behind later "reconnecting" refusals), and
 * each distinct hint once, at the end. Code, reason and retryability are the last error's.
 */
function exhausted(last: RpcError, invocation: Invocation, tried: readonly Invoker[], errors: readonly RpcError[], stop: string | undefined): RpcError {
  const addresses: string[] = [];
  for (const invoker of tried) {
    const address = invoker.url.address;
    if (!addresses.includes(address)) addresses.push(address);
  }
  const failures: string[] = [];
  const hints: string[] = [];
  for (const e of errors) {
    const { text, hints: h } = splitHint(e.message);
    if (!failures.includes(text)) failures.push(text);
    for (const x of h) if (!hints.includes(x)) hints.push(x);
  }
  const count = `${tried.length} attempt${tried.length === 1 ? '' : 's'} on ${addresses.length} provider${addresses.length === 1 ? '' : 's'}`;
  const message =
    `Failed to invoke ${invocation.serviceKey || invocation.service}.${invocation.method} after ${count} ` +
    `(${addresses.join(', ')})${stop ? `; stopped because ${stop}` : ''}. ` +
    (failures.length === 1 ? `Error: ${failures[0]}` : `Errors:\n    ${failures.join('\n    ')}`) +
    hints.map((h) => `\n  hint: ${h}`).join('');
  const err = new RpcError(message, last.code, {
    retryable: last.retryable,
    cause: last,
    data: last.data,
    reason: last.reason,
    remote: last.remote,
  });
  if (last.remoteName !== undefined) err.remoteName = last.remoteName;
  return err;
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [{ point: 'cluster', name: 'failover', keys: ['sticky'], create: (ctx) => new FailoverCluster({ logger: ctx?.logger }) }],
});

import {
  RpcInvocation,
  type ClusterSupport,
  type Directory,
  type Invocation,
  type Invoker,
  type LoadBalance,
  type Logger,
  type Result,
  type URL,
} from '@plexus/kernel/spi';
import { isBusinessError } from './errors';
import { stickyOf } from './params';
import { choose, noProviderError, usable } from './select';

/** Methods remembered for stickiness per cluster invoker; past this the memory starts over (generic calls may name any method). */
const MAX_STICKY_METHODS = 1024;

/** What every cluster's `create(ctx)` passes on; tests may leave it out. */
export interface ClusterOptions {
  /** Where a cluster reports unusable keys and swallowed failures. Default: nowhere. */
  logger?: Logger;
}

/** The result failsafe and failback hand a caller whose call failed: no value. */
export const EMPTY_RESULT: Result = Object.freeze({ value: undefined });

/**
 * What every fault-tolerance policy shares, written once (the role of Dubbo's
 * AbstractClusterInvoker): listing providers with the NO_PROVIDER error, choosing one (sticky,
 * availability, skipping those tried), running an attempt between the load balancer's
 * `started`/`finished` hooks, the deadline and cancel checks between attempts, and per-attempt
 * invocations for policies that run attempts at once. A policy only says what to do with answers.
 *
 * Scope: one per reference and policy name, called concurrently; per-call state lives in the
 * call's own frames, never here nor on the invocation. The only shared state is the sticky
 * provider per method, and only when `sticky` is on.
 */
export abstract class AbstractClusterInvoker implements Invoker {
  readonly url: URL;
  protected readonly logger: Logger | undefined;
  private sticky: Map<string, Invoker> | undefined = undefined;

  constructor(
    protected readonly directory: Directory,
    protected readonly support: ClusterSupport,
    options: ClusterOptions = {},
  ) {
    this.url = directory.url;
    this.logger = options.logger;
  }

  /**
   * Runs the call through the policy. A call already cancelled (its deadline passed, the consumer
   * aborted) starts no attempt. Never throws: whatever a directory, router or balancer throws
   * becomes a rejection (or what `onThrown` makes of it).
   */
  invoke(invocation: Invocation): Promise<Result> {
    if (invocation.cancelled !== undefined) return Promise.reject(invocation.cancelled);
    try {
      return this.doInvoke(invocation);
    } catch (err) {
      return this.onThrown(err, invocation);
    }
  }

  isAvailable(): boolean {
    return this.directory.isAvailable();
  }

  /**
   * Called by the kernel when the reference is destroyed (for every invoker a cluster joined),
   * before it destroys the directory itself: the directory is the reference's, shared by every
   * policy the reference joined, so it is not destroyed here. Policies that hold work override this.
   */
  destroy(): Promise<void> {
    return Promise.resolve();
  }

  /** The policy. May throw (NO_PROVIDER from `list`, a failing router): `invoke` turns it into `onThrown`. */
  protected abstract doInvoke(invocation: Invocation): Promise<Result>;

  /** What a synchronous failure of `doInvoke` becomes; by default the caller's rejection. */
  protected onThrown(err: unknown, _invocation: Invocation): Promise<Result> {
    return Promise.reject(err);
  }

  /** The providers for the call after routing; throws NO_PROVIDER when there are none. */
  protected list(invocation: Invocation): readonly Invoker[] {
    const invokers = this.directory.list(invocation);
    if (invokers.length === 0) throw noProviderError(this.directory, invocation);
    return invokers;
  }

  /**
   * The provider for the next attempt among `invokers` (never empty), not one of `tried` when
   * avoidable. With `sticky` on, the provider this method used last, while it is still listed,
   * available and untried; otherwise `pick`'s choice, which is then remembered.
   */
  protected select(lb: LoadBalance, invokers: readonly Invoker[], invocation: Invocation, tried?: readonly Invoker[]): Invoker {
    if (invocation.settings.params.sticky === undefined || !stickyOf(invocation.settings, this.logger)) {
      return this.pick(lb, invokers, invocation, tried);
    }
    const method = invocation.method;
    const held = this.sticky?.get(method);
    if (held !== undefined && usable(held) && (tried === undefined || !tried.includes(held)) && invokers.includes(held)) return held;
    const chosen = this.pick(lb, invokers, invocation, tried);
    if (this.sticky === undefined) this.sticky = new Map();
    else if (this.sticky.size >= MAX_STICKY_METHODS && !this.sticky.has(method)) this.sticky.clear();
    this.sticky.set(method, chosen);
    return chosen;
  }

  /** How the policy picks when nothing is sticky: the balancer, skipping unusable and tried providers. */
  protected pick(lb: LoadBalance, invokers: readonly Invoker[], invocation: Invocation, tried?: readonly Invoker[]): Invoker {
    return choose(lb, invokers, invocation, tried);
  }

  /**
   * One attempt on `invoker`. When the balancer has attempt hooks, `started` runs right before it
   * and `finished` exactly once when it settles (elapsed ms; `failed` for any rejection but a
   * business error, which is an answer). Without hooks this is the provider's own promise: nothing
   * allocated. Never throws.
   */
  protected attempt(lb: LoadBalance, invoker: Invoker, invocation: Invocation): Promise<Result> {
    if (lb.started === undefined && lb.finished === undefined) {
      try {
        return invoker.invoke(invocation);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return hooked(lb, invoker, invocation);
  }

  /** Why no further attempt of the call may start (cancelled, deadline passed), or undefined. */
  protected stopReason(invocation: Invocation): string | undefined {
    const cancelled = invocation.cancelled;
    if (cancelled !== undefined) return `the call was cancelled (${cancelled.code})`;
    if (invocation.deadline > 0 && Date.now() >= invocation.deadline) return 'the deadline passed';
    return undefined;
  }
}

function hooked(lb: LoadBalance, invoker: Invoker, invocation: Invocation): Promise<Result> {
  try {
    lb.started?.(invoker, invocation);
  } catch (err) {
    // No attempt was made, so no `finished` either; the call fails with the balancer's error.
    return Promise.reject(err);
  }
  const start = performance.now();
  let running: Promise<Result>;
  try {
    running = invoker.invoke(invocation);
  } catch (err) {
    running = Promise.reject(err);
  }
  return running.then(
    (result) => {
      lb.finished?.(invoker, invocation, performance.now() - start, false);
      return result;
    },
    (err: unknown) => {
      lb.finished?.(invoker, invocation, performance.now() - start, !isBusinessError(err));
      throw err;
    },
  );
}

/**
 * An invocation for one of several attempts of `invocation` running at once (forking,
 * broadcast): same call, same deadline, its own attachments (invoker-stage filters may write
 * them), and cancelled when the caller's call is — but cancelling it leaves the caller alone.
 * Call `releaseAttempt` once the attempt settled.
 */
export function attemptOf(invocation: Invocation): RpcInvocation {
  const attempt = new RpcInvocation({
    service: invocation.service,
    method: invocation.method,
    args: invocation.args,
    attachments: { ...invocation.attachments },
    version: invocation.version,
    group: invocation.group,
    serviceKey: invocation.serviceKey,
    settings: invocation.settings,
    deadline: invocation.deadline,
    remoteAddress: invocation.remoteAddress,
  });
  invocation.addCancelListener(attempt);
  return attempt;
}

/** Stops `attempt` from listening to the caller's cancel. */
export function releaseAttempt(invocation: Invocation, attempt: RpcInvocation): void {
  invocation.removeCancelListener(attempt);
}

import { RpcCode, RpcError } from '../errors/rpc-error';
import type { Invocation } from '../spi/invocation';
import type { CallReply } from '../spi/protocol';
import type { Result } from '../spi/result';
import { deadlineWheel, type TimedEntry } from './timer-wheel';
import { RpcStream } from '../stream/rpc-stream';

// The promise executor is shared: capturing resolve/reject this way allocates no closure per call.
let capturedResolve: (result: unknown) => void = () => undefined;
let capturedReject: (error: unknown) => void = () => undefined;
function capture(resolve: (result: unknown) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** Which side is waiting: the consumer's whole call, or the provider's run of it. */
export type WatchSide = 'consumer' | 'provider';

/**
 * Holds one call to its deadline and to the caller's `AbortSignal`: settles with the call's own
 * outcome, or — whichever comes first — rejects with TIMEOUT (consumer) / SERVER_TIMEOUT
 * (provider) at the deadline, or CANCELLED when the caller aborts; in both cases the invocation is
 * cancelled, so whatever still works on it (a protocol's pending request, the implementation's
 * `signal`) stops. Scope: per call; only calls with a deadline or a signal get one.
 */
class CallWatch implements TimedEntry {
  readonly promise: Promise<unknown>;
  readonly deadline: number;
  wheelSlot = -1;
  wheelIndex = -1;
  private readonly resolve: (result: unknown) => void;
  private readonly reject: (error: unknown) => void;
  private settled = false;
  private abortListener: (() => void) | undefined;

  constructor(
    private readonly invocation: Invocation,
    private readonly side: WatchSide,
    private readonly signal: AbortSignal | undefined,
    deadline: number,
    /** Consumer calls resolve with the value itself: one promise less per call. */
    private readonly unwrap: boolean,
    /** May name the timeout better (a registry that never answered); undefined keeps TIMEOUT. */
    private readonly explain: ((timeout: RpcError) => RpcError | undefined) | undefined,
  ) {
    this.promise = new Promise<unknown>(capture);
    this.resolve = capturedResolve;
    this.reject = capturedReject;
    this.deadline = deadline;
  }

  start(running: Promise<Result>): Promise<unknown> {
    if (this.deadline > 0) deadlineWheel.add(this);
    const signal = this.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.abort();
      else signal.addEventListener('abort', (this.abortListener = () => this.abort()), { once: true });
    }
    running.then(this.ok, this.fail);
    return this.promise;
  }

  expire(): void {
    if (this.settled) return;
    const err = deadlineError(this.invocation, this.side);
    this.finish();
    this.invocation.cancel(err);
    // A layer listening for the cancel may have answered the call instead (mock, failsafe, ...).
    const recovered = this.side === 'consumer' ? this.invocation.recovered : undefined;
    if (recovered !== undefined) this.resolve(this.unwrap ? recovered.value : recovered);
    else this.reject(this.explain?.(err) ?? err);
  }

  private abort(): void {
    const err = cancelledError(this.invocation, this.signal?.reason);
    this.stop(err, err);
  }

  /** Cancels the invocation with `reason` and rejects the caller with `shown`. */
  private stop(reason: RpcError, shown: RpcError): void {
    if (this.settled) return;
    this.finish();
    this.invocation.cancel(reason);
    this.reject(shown);
  }

  private readonly ok = (result: Result): void => {
    if (this.settled) return;
    this.finish();
    const value = result.value;
    // A streamed answer: the deadline and the signal cover the whole stream, not only its start.
    if (value instanceof RpcStream) {
      const inv = this.invocation;
      value.holdTo(this.deadline, this.side, this.signal, (s) => cancelledError(inv, s.reason));
    }
    this.resolve(this.unwrap ? value : result);
  };

  private readonly fail = (err: unknown): void => {
    if (this.settled) return;
    this.finish();
    this.reject(err);
  };

  private finish(): void {
    this.settled = true;
    deadlineWheel.remove(this);
    if (this.abortListener !== undefined) this.signal!.removeEventListener('abort', this.abortListener);
  }
}

/**
 * `running` held to `invocation.deadline` and to `signal`. Without either it is returned as it is:
 * a call with no deadline and no signal costs nothing here.
 */
export function watchCall(
  invocation: Invocation,
  running: Promise<Result>,
  side: WatchSide,
  signal?: AbortSignal,
  deadline = invocation.deadline,
): Promise<Result> {
  if (deadline <= 0 && signal === undefined) return running;
  return new CallWatch(invocation, side, signal, deadline, false, undefined).start(running) as Promise<Result>;
}

/**
 * A consumer call held to its deadline and signal, resolving with the result's value (not the
 * Result): what the proxy hands the caller. `explain` may replace the TIMEOUT shown to the caller.
 */
export function watchConsumerCall(
  invocation: Invocation,
  running: Promise<Result>,
  signal: AbortSignal | undefined,
  explain: (timeout: RpcError) => RpcError | undefined,
): Promise<unknown> {
  return new CallWatch(invocation, 'consumer', signal, invocation.deadline, true, explain).start(running);
}

/**
 * The provider's hold on one call for protocols that take the outcome by callback
 * (`ServiceInvoker.dispatch`): a wheel entry instead of a second promise racing the first. Reports
 * exactly once to `reply`: the outcome, or SERVER_TIMEOUT at the deadline (then the invocation is
 * cancelled and whatever the implementation produces later is dropped).
 */
class ProviderWatch implements TimedEntry {
  wheelSlot = -1;
  wheelIndex = -1;
  private settled = false;

  constructor(
    private readonly invocation: Invocation,
    readonly deadline: number,
    private readonly reply: CallReply,
  ) {}

  expire(): void {
    if (this.settled) return;
    this.settled = true;
    const err = deadlineError(this.invocation, 'provider');
    this.invocation.cancel(err);
    this.reply.rejected(err);
  }

  readonly ok = (result: Result): void => {
    if (this.settled) return;
    this.settled = true;
    deadlineWheel.remove(this);
    this.reply.resolved(result);
  };

  readonly fail = (err: unknown): void => {
    if (this.settled) return;
    this.settled = true;
    deadlineWheel.remove(this);
    this.reply.rejected(err);
  };
}

/**
 * Reports the outcome of `running` to `reply`, held to `deadline` (epoch ms; 0 = not held): the
 * provider side of `ServiceInvoker.dispatch`. One `then` on `running`, no promise of its own.
 */
export function replyWhenSettled(invocation: Invocation, running: Promise<Result>, deadline: number, reply: CallReply): void {
  if (deadline <= 0) {
    running.then(
      (result) => reply.resolved(result),
      (error: unknown) => reply.rejected(error),
    );
    return;
  }
  const watch = new ProviderWatch(invocation, deadline, reply);
  deadlineWheel.add(watch);
  running.then(watch.ok, watch.fail);
}

/** A call that is past its deadline before it started: rejected at once, cancelled. */
export function expiredCall(invocation: Invocation, side: WatchSide): Promise<Result> {
  const err = deadlineError(invocation, side);
  invocation.cancel(err);
  return Promise.reject(err);
}

function callName(inv: Invocation): string {
  return `${inv.serviceKey || inv.service}.${inv.method}`;
}

/** The TIMEOUT (consumer) or SERVER_TIMEOUT (provider) error of a call whose deadline passed. */
export function deadlineError(inv: Invocation, side: WatchSide): RpcError {
  const budget = inv.settings.timeout;
  if (side === 'provider') {
    return new RpcError(
      `${callName(inv)} ran past its deadline on the provider (timeout ${budget} ms) and was abandoned` +
        '\n  hint: the implementation is slower than the provider `timeout`; raise `timeout` on the service or method, or make it honour Plexus.context().signal.',
      RpcCode.SERVER_TIMEOUT,
      { reason: 'PLEXUS_ERR_CALL_SERVER_TIMEOUT' },
    );
  }
  return new RpcError(
    `${callName(inv)} timed out after ${budget} ms (the whole call, retries included)` +
      '\n  hint: raise `timeout` on the reference or method, or per call with Plexus.withCallOptions({ timeout }, fn).',
    RpcCode.TIMEOUT,
    { reason: 'PLEXUS_ERR_CALL_TIMEOUT' },
  );
}

/** The CANCELLED error of a call its caller aborted. */
export function cancelledError(inv: Invocation, cause?: unknown): RpcError {
  return new RpcError(`${callName(inv)} was cancelled by the caller`, RpcCode.CANCELLED, {
    reason: 'PLEXUS_ERR_CALL_CANCELLED',
    cause,
    retryable: false,
  });
}

import { deadlineError, type WatchSide } from '../deadline/call-watch';
import { deadlineWheel, type TimedEntry } from '../deadline/timer-wheel';
import { RpcCode, RpcError } from '../errors/rpc-error';
import type { CancelListener, Invocation } from '../spi/invocation';

/** True for anything `for await` can read: async generators, streams, Node Readables. */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/**
 * The position of the one argument that is a client stream (an `AsyncIterable`), or -1. A call
 * carries at most one: a second is refused by the protocol that sends it (`streamArgError`).
 */
export function streamArgIndex(args: readonly unknown[]): number {
  for (let i = 0; i < args.length; i++) if (isAsyncIterable(args[i])) return i;
  return -1;
}

/** The coded error for a call with more than one stream argument. */
export function streamArgError(inv: Invocation): RpcError {
  return new RpcError(
    `${inv.serviceKey}.${inv.method} was called with more than one stream argument` +
      '\n  hint: a call carries at most one AsyncIterable argument; merge the streams into one.',
    RpcCode.BAD_REQUEST,
    { reason: 'PLEXUS_ERR_STREAM_ARGS', retryable: false },
  );
}

/** The CANCELLED error a sender sees when the reader of its stream stopped early (`break`, `return()`). */
export function streamClosedError(inv: Invocation | undefined, by: 'consumer' | 'provider'): RpcError {
  const what = inv ? `the stream of ${inv.serviceKey}.${inv.method}` : 'the stream';
  return new RpcError(`${what} was closed by the ${by} before its end`, RpcCode.CANCELLED, {
    reason: 'PLEXUS_ERR_STREAM_CLOSED',
    retryable: false,
  });
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * Who waits for a stream's next item without a promise: `RpcStream.nextInto` hands the outcome to
 * these methods (at once when it is known, later otherwise). A `StreamPump` is one; `next()` parks
 * a promise's resolve and reject as one.
 */
export interface StreamWaiter<T> {
  /** The next item (`done: false`) or the end (`done: true`). */
  onNext(result: IteratorResult<T>): void;
  /** The stream failed: its coded error, or the read was refused. */
  onNextError(err: unknown): void;
}

function concurrentReadError(): RpcError {
  return new RpcError('next() called while an earlier next() of the stream is still pending\n  hint: read a stream from one loop (for await), one item at a time.', RpcCode.BAD_REQUEST, {
    reason: 'PLEXUS_ERR_STREAM_CONCURRENT_READ',
  });
}

/** A parked `next()`: the promise's own resolve and reject. */
class ParkedRead<T> implements StreamWaiter<T> {
  onNext!: (result: IteratorResult<T>) => void;
  onNextError!: (err: unknown) => void;
}

/**
 * What every stream the kernel hands out has in common, whichever side reads it: a consumer
 * reading a provider's items, a provider reading a consumer's argument stream, or a consumer
 * reading an in-process provider's generator. It is an `AsyncIterableIterator`; once it ends,
 * fails or is closed, every later `next()` answers the same way.
 *
 * It follows one invocation: when that call is cancelled (deadline, the caller's abort, the
 * connection dropping, a cancel frame) a pending `next()` rejects with the coded reason at once.
 * It can also hold the call to a deadline itself (`holdTo`), for the time after the call's answer:
 * a stream's deadline covers the whole stream, not only its start.
 *
 * Scope: one per streamed call and direction; event loop only.
 */
export abstract class RpcStream<T = unknown> implements AsyncIterableIterator<T>, CancelListener, TimedEntry {
  deadline = 0;
  wheelSlot = -1;
  wheelIndex = -1;
  /** Set once the stream ended, failed or was closed; reads answer from it. */
  protected outcome: RpcError | 'end' | undefined = undefined;
  protected invocation: Invocation | undefined = undefined;
  private waiting: StreamWaiter<T> | undefined = undefined;
  private side: WatchSide = 'consumer';
  private settledHooks: Array<() => void> | undefined = undefined;
  private abortSignal: AbortSignal | undefined = undefined;
  private abortListener: (() => void) | undefined = undefined;

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** True once no more items will come. */
  get closed(): boolean {
    return this.outcome !== undefined;
  }

  /**
   * Follows `invocation`: its cancel fails the stream with the same coded reason. Called by
   * whoever creates the stream (a protocol) once the invocation exists.
   */
  follow(invocation: Invocation): this {
    this.invocation = invocation;
    invocation.addCancelListener(this);
    return this;
  }

  /**
   * Holds the stream to `deadline` (epoch ms; 0 = none) and to `signal`: when one passes or aborts,
   * the followed invocation is cancelled with TIMEOUT / SERVER_TIMEOUT (by `side`) or CANCELLED,
   * which ends the stream with that error. The kernel does this for every streamed answer.
   */
  holdTo(deadline: number, side: WatchSide, signal?: AbortSignal, cancelled?: (s: AbortSignal) => RpcError): void {
    if (this.outcome !== undefined) return;
    this.side = side;
    if (deadline > 0 && (this.deadline === 0 || deadline < this.deadline)) {
      if (this.wheelSlot >= 0) deadlineWheel.remove(this);
      this.deadline = deadline;
      deadlineWheel.add(this);
    }
    if (signal !== undefined && cancelled !== undefined && this.abortListener === undefined) {
      this.abortSignal = signal;
      this.abortListener = () => this.cancelWith(cancelled(signal));
      if (signal.aborted) this.abortListener();
      else signal.addEventListener('abort', this.abortListener, { once: true });
    }
  }

  /** Runs `hook` once when the stream ends, fails or is closed (at once if it already did). */
  onSettled(hook: () => void): void {
    if (this.outcome !== undefined) hook();
    else (this.settledHooks ??= []).push(hook);
  }

  /** The deadline passed (the timer wheel calls this). */
  expire(): void {
    if (this.outcome !== undefined) return;
    const inv = this.invocation;
    const err = inv
      ? deadlineError(inv, this.side)
      : new RpcError('the stream passed its deadline', this.side === 'provider' ? RpcCode.SERVER_TIMEOUT : RpcCode.TIMEOUT, {
          reason: this.side === 'provider' ? 'PLEXUS_ERR_CALL_SERVER_TIMEOUT' : 'PLEXUS_ERR_CALL_TIMEOUT',
        });
    this.cancelWith(err);
  }

  /** The followed invocation was cancelled: the stream fails with the reason. */
  onCancel(reason: RpcError): void {
    if (this.outcome !== undefined) return;
    this.settle(reason);
    this.cancelled(reason);
  }

  next(): Promise<IteratorResult<T>> {
    const outcome = this.outcome;
    if (outcome !== undefined) return outcome === 'end' ? Promise.resolve(DONE) : Promise.reject(outcome);
    if (this.waiting !== undefined) return Promise.reject(concurrentReadError());
    return this.read();
  }

  /**
   * `next()` without a promise: the outcome goes to `waiter` — synchronously when it is already
   * known (an item buffered, the stream over), later otherwise. What a sender that reads many
   * items uses (`StreamPump`): no promise, result object or closure per item of its own. A waiter
   * that reads again from inside `onNext` must not recurse without bound (the pump loops instead).
   */
  nextInto(waiter: StreamWaiter<T>): void {
    const outcome = this.outcome;
    if (outcome !== undefined) {
      if (outcome === 'end') waiter.onNext(DONE);
      else waiter.onNextError(outcome);
      return;
    }
    if (this.waiting !== undefined) {
      waiter.onNextError(concurrentReadError());
      return;
    }
    this.waiting = waiter;
    this.pull();
  }

  /** The reader stops early (`break` in `for await`): the other side is told and stops producing. */
  return(): Promise<IteratorResult<T>> {
    if (this.outcome === undefined) {
      const reason = streamClosedError(this.invocation, this.readerSide());
      this.settle('end');
      this.closedByReader(reason);
    }
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    if (this.outcome === undefined) {
      const reason = RpcError.from(err, RpcCode.CANCELLED);
      this.settle(reason);
      this.closedByReader(reason);
    }
    return Promise.reject(err);
  }

  /** Which side reads this stream, for the error the writer sees when the reader stops. */
  protected abstract readerSide(): 'consumer' | 'provider';
  /**
   * Produce the next item for the read that is waiting: answer through `deliver`, `finish` or
   * `fail`, now or later. A subclass overrides this, `read`, or both. The default serves a
   * subclass that only implements `read` (as before `nextInto` existed), one promise per item.
   */
  protected pull(): void {
    const w = this.waiting!;
    this.waiting = undefined;
    this.read().then(
      (r) => w.onNext(r),
      (e: unknown) => w.onNextError(e),
    );
  }

  /**
   * `next()` once it is known that the stream is open and no read waits. The default parks the
   * read, then pulls.
   */
  protected read(): Promise<IteratorResult<T>> {
    const parked = this.park();
    this.pull();
    return parked;
  }
  /** The reader closed the stream early: tell the writer (a cancel frame, a generator's `return()`). */
  protected abstract closedByReader(reason: RpcError): void;
  /** The call was cancelled or passed its deadline while the stream was open: stop the writer. */
  protected abstract cancelled(reason: RpcError): void;

  /** Parks a read until `deliver`, `finish` or `fail`. */
  protected park(): Promise<IteratorResult<T>> {
    const w = new ParkedRead<T>();
    const parked = new Promise<IteratorResult<T>>((resolve, reject) => {
      w.onNext = resolve;
      w.onNextError = reject;
    });
    this.waiting = w;
    return parked;
  }

  /** True when a read is parked. */
  protected get parked(): boolean {
    return this.waiting !== undefined;
  }

  /** Hands `value` to the parked read. */
  protected deliver(value: T): void {
    const w = this.waiting!;
    this.waiting = undefined;
    w.onNext({ done: false, value });
  }

  /** Hands an iterator's own result object (`done: false`) to the waiting read, as it is. */
  protected deliverResult(result: IteratorResult<T>): void {
    const w = this.waiting!;
    this.waiting = undefined;
    w.onNext(result);
  }

  /** The writer ended the stream: the parked read, and every later one, is done. */
  protected finish(): void {
    if (this.outcome === undefined) this.settle('end');
  }

  /** The writer failed the stream with `err`: the parked read, and every later one, rejects with it. */
  protected fail(err: RpcError): void {
    if (this.outcome === undefined) this.settle(err);
  }

  /** Cancels the followed call (so everything working on it stops) or, without one, fails the stream. */
  protected cancelWith(err: RpcError): void {
    if (this.invocation !== undefined) this.invocation.cancel(err);
    if (this.outcome === undefined) this.onCancel(err);
  }

  private settle(outcome: RpcError | 'end'): void {
    this.outcome = outcome;
    if (this.wheelSlot >= 0) deadlineWheel.remove(this);
    if (this.abortListener !== undefined) {
      this.abortSignal!.removeEventListener('abort', this.abortListener);
      this.abortListener = undefined;
    }
    this.invocation?.removeCancelListener(this);
    const w = this.waiting;
    if (w !== undefined) {
      this.waiting = undefined;
      if (outcome === 'end') w.onNext(DONE);
      else w.onNextError(outcome);
    }
    const hooks = this.settledHooks;
    if (hooks !== undefined) {
      this.settledHooks = undefined;
      for (const hook of hooks) {
        try {
          hook();
        } catch {
          // a settle hook must not keep the others from running
        }
      }
    }
  }
}

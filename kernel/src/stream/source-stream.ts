import { serviceError } from '../errors/service-error';
import { callStorage } from '../pipeline/call-context';
import type { Invocation } from '../spi/invocation';
import { RpcStream } from './rpc-stream';

/**
 * What a provider method's `AsyncIterable` becomes: each `next()` runs the implementation's
 * iterator inside the call's context (so `Plexus.context()` works in an `async *` method between
 * yields), whatever it throws becomes a coded error, and the call's deadline and cancel end it —
 * a pending `next()` rejects at once and the generator's `return()` runs its `finally`.
 *
 * Protocols read it to send the items (`openProviderStream`, through a `StreamPump`, which reads
 * with `nextInto`: no promise of its own per item); an in-process consumer reads it directly.
 *
 * The context costs one `callStorage.run` per read that comes from outside, and none per read
 * made from inside the delivery of the previous item (a pump reading on at once): that delivery
 * runs as the reaction of a `then` attached inside the call's context, so the context is already
 * the call's and the next `next()` of the iterator runs in it too.
 */
export class SourceStream<T = unknown> extends RpcStream<T> {
  private readonly iterator: AsyncIterator<T>;
  private returned = false;
  /** True while an item is being delivered: the code running now is in the call's context. */
  private inContext = false;

  constructor(
    source: AsyncIterable<T>,
    private readonly inv: Invocation,
  ) {
    super();
    this.iterator = callStorage.run(inv, () => source[Symbol.asyncIterator]());
    this.follow(inv);
  }

  protected readerSide(): 'consumer' | 'provider' {
    return 'consumer';
  }

  protected override pull(): void {
    try {
      if (this.inContext) this.issue();
      else callStorage.run(this.inv, this.issue);
    } catch (err) {
      this.fail(serviceError(err, this.inv));
      this.stopSource();
    }
  }

  /** Asks the iterator for its next item; its answer comes back through `ok` / `failed`. */
  private readonly issue = (): void => {
    // Promise.resolve hands a promise back as it is and adopts anything else.
    Promise.resolve(this.iterator.next()).then(this.ok, this.failed);
  };

  private readonly ok = (r: IteratorResult<T>): void => {
    if (this.outcome !== undefined) return;
    if (r === null || typeof r !== 'object') {
      this.fail(serviceError(new TypeError('the stream\'s iterator answered next() with a non-object'), this.inv));
      this.stopSource();
    } else if (r.done) this.finish();
    else {
      this.inContext = true;
      try {
        this.deliverResult(r);
      } finally {
        this.inContext = false;
      }
    }
  };

  private readonly failed = (err: unknown): void => {
    if (this.outcome !== undefined) return;
    this.fail(serviceError(err, this.inv));
  };

  protected closedByReader(): void {
    this.stopSource();
  }

  protected cancelled(): void {
    this.stopSource();
  }

  /** Runs the source's `return()` (a generator's `finally`) once; what it throws is the implementation's. */
  private stopSource(): void {
    if (this.returned) return;
    this.returned = true;
    const it = this.iterator;
    if (typeof it.return !== 'function') return;
    try {
      const out = callStorage.run(this.inv, () => it.return!());
      Promise.resolve(out).catch(() => undefined);
    } catch {
      // a throwing return() has nowhere to go: the stream is already over for the reader
    }
  }
}

/**
 * The provider side of a streamed answer: wraps what the method returned (`value`, an
 * `AsyncIterable`) in a `SourceStream` held to the provider's own deadline for the whole stream.
 * Protocols call this when an invocation's result value is async iterable, then read the stream
 * and send its items; the kernel's injvm protocol hands it to the consumer as it is.
 */
export function openProviderStream<T>(inv: Invocation, value: AsyncIterable<T>): SourceStream<T> {
  if (value instanceof SourceStream) return value;
  const stream = new SourceStream<T>(value, inv);
  const deadline = (inv as { watchedDeadline?: number }).watchedDeadline ?? inv.deadline;
  stream.holdTo(deadline, 'provider');
  return stream;
}

import { RpcCode, RpcError } from '../errors/rpc-error';
import { serviceError } from '../errors/service-error';
import type { Invocation } from '../spi/invocation';
import { RpcStream, type StreamWaiter } from './rpc-stream';

/** Where a pump writes a stream's items: a protocol's frames for one call and direction. */
export interface StreamSink<T> {
  /**
   * Sends one item. Returns false when the receiver's window is used up (or the transport is
   * full): the pump then waits for `resume()`. Throws a coded error when the item cannot be sent
   * (serialization, too large): the pump then fails the stream with it.
   */
  write(item: T): boolean;
  /** The source ended: send the end of the stream. */
  end(): void;
  /** The source failed: send the coded error after the items already sent. */
  error(err: RpcError): void;
}

function errorOf(err: unknown, inv: Invocation | undefined): RpcError {
  return err instanceof RpcError ? err : inv ? serviceError(err, inv) : RpcError.fromThrown(err, RpcCode.CANCELLED);
}

/**
 * Reads an `AsyncIterable` and writes its items to a sink, one at a time, waiting whenever the
 * sink says the receiver has no room: a slow reader slows the source, and nothing piles up in
 * memory. `stop()` ends it early from the outside (the receiver cancelled, the call ended, the
 * connection dropped): the source's `return()` runs (a generator's `finally`), nothing more is
 * written. Either way the pump ends exactly once, with one of `sink.end()`, `sink.error()` or
 * nothing (stopped).
 *
 * It is driven by callbacks, not an async loop: the pump is itself the waiter of the source's
 * reads (`RpcStream.nextInto` for the kernel's streams — no promise per item besides the source's
 * own — or one `then` of bound methods on any other iterator's promise), and it reads on from
 * inside the delivery of each item while the sink has room. An item the source has ready at once
 * (a buffered `InboundStream`) loops here rather than recursing.
 *
 * Scope: one per streamed call and direction; event loop only.
 */
export class StreamPump<T = unknown> implements StreamWaiter<T> {
  private iterator: AsyncIterator<T> | undefined;
  /** The source when it is one of the kernel's streams: read with `nextInto`. */
  private stream: RpcStream<T> | undefined;
  private paused = false;
  private stopped = false;
  private running = false;
  /** A read of the source is in flight. */
  private reading = false;
  /** Inside `loop`: an item answered synchronously asks for another turn instead of recursing. */
  private looping = false;
  private again = false;
  private returned = false;
  private finished: (() => void) | undefined;
  private over: Promise<void> | undefined;

  constructor(
    private readonly source: AsyncIterable<T>,
    private readonly sink: StreamSink<T>,
    /** The call the items belong to: source errors become its coded SERVICE_ERRORs. */
    private readonly inv?: Invocation,
  ) {}

  /** True once the pump ended, failed or was stopped. */
  get done(): boolean {
    return this.stopped;
  }

  /** Starts reading the source. Resolves when the pump is over; never rejects. */
  start(): Promise<void> {
    if (this.running || this.stopped) return this.over ?? Promise.resolve();
    this.running = true;
    this.over = new Promise<void>((resolve) => (this.finished = resolve));
    let it: AsyncIterator<T>;
    try {
      it = this.iterator = this.source[Symbol.asyncIterator]();
    } catch (err) {
      this.failWith(err);
      return this.over;
    }
    if (it instanceof RpcStream) this.stream = it as RpcStream<T>;
    this.loop();
    return this.over;
  }

  /** The receiver has room again (credit arrived, the transport drained). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.stopped && this.running) this.loop();
  }

  /** Ends the pump from outside: no more writes, and the source's `return()` runs. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeSource();
    this.paused = false;
    this.settle();
  }

  /** @internal The source's next item (StreamWaiter). */
  onNext(r: IteratorResult<T>): void {
    this.reading = false;
    if (this.stopped) return;
    if (r.done) {
      this.stopped = true;
      this.returned = true;
      try {
        this.sink.end();
      } catch {
        // a sink that cannot send the end has lost its connection: nothing more to tell
      }
      this.settle();
      return;
    }
    let room: boolean;
    try {
      room = this.sink.write(r.value);
    } catch (err) {
      this.failWith(err);
      return;
    }
    if (!room) {
      this.paused = true;
      return;
    }
    if (this.looping) this.again = true;
    else this.loop();
  }

  /** @internal The source failed (StreamWaiter). */
  onNextError(err: unknown): void {
    this.reading = false;
    this.failWith(err);
  }

  private readonly resolved = (r: IteratorResult<T>): void => {
    if (r === null || typeof r !== 'object') {
      this.onNextError(new TypeError("the stream's iterator answered next() with a non-object"));
      return;
    }
    this.onNext(r);
  };

  private readonly rejected = (err: unknown): void => this.onNextError(err);

  /** Reads the source while nothing is in flight, the sink has room and the pump runs. */
  private loop(): void {
    this.looping = true;
    try {
      do {
        this.again = false;
        if (this.reading || this.paused || this.stopped) return;
        this.reading = true;
        const stream = this.stream;
        if (stream !== undefined) stream.nextInto(this);
        else this.readIterator();
      } while (this.again);
    } finally {
      this.looping = false;
    }
  }

  private readIterator(): void {
    let pending: unknown;
    try {
      pending = (this.iterator as AsyncIterator<T>).next();
    } catch (err) {
      this.onNextError(err);
      return;
    }
    // Promise.resolve hands a promise back as it is and adopts anything else.
    Promise.resolve(pending as IteratorResult<T>).then(this.resolved, this.rejected);
  }

  private failWith(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeSource();
    try {
      this.sink.error(errorOf(err, this.inv));
    } catch {
      // a sink that cannot send the error has lost its connection: nothing more to tell
    }
    this.settle();
  }

  private settle(): void {
    const finished = this.finished;
    if (finished === undefined) return;
    this.finished = undefined;
    finished();
  }

  private closeSource(): void {
    if (this.returned) return;
    this.returned = true;
    const it = this.iterator;
    if (it === undefined || typeof it.return !== 'function') return;
    try {
      Promise.resolve(it.return()).catch(() => undefined);
    } catch {
      // the source's own return() failed: it is over either way
    }
  }
}

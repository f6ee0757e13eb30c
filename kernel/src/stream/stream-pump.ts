import { RpcCode, RpcError } from '../errors/rpc-error';
import { serviceError } from '../errors/service-error';
import type { Invocation } from '../spi/invocation';

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
 * Scope: one per streamed call and direction; event loop only.
 */
export class StreamPump<T = unknown> {
  private iterator: AsyncIterator<T> | undefined;
  private paused = false;
  private stopped = false;
  private running = false;
  private wake: (() => void) | undefined;
  private returned = false;

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
    if (this.running || this.stopped) return Promise.resolve();
    this.running = true;
    return this.run();
  }

  /** The receiver has room again (credit arrived, the transport drained). */
  resume(): void {
    this.paused = false;
    const wake = this.wake;
    if (wake !== undefined) {
      this.wake = undefined;
      wake();
    }
  }

  /** Ends the pump from outside: no more writes, and the source's `return()` runs. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeSource();
    this.resume();
  }

  private async run(): Promise<void> {
    let it: AsyncIterator<T>;
    try {
      it = this.iterator = this.source[Symbol.asyncIterator]();
    } catch (err) {
      this.failWith(err);
      return;
    }
    try {
      for (;;) {
        if (this.paused) await new Promise<void>((resolve) => (this.wake = resolve));
        if (this.stopped) return;
        const r = await it.next();
        if (this.stopped) return;
        if (r.done) {
          this.stopped = true;
          this.returned = true;
          this.sink.end();
          return;
        }
        if (!this.sink.write(r.value)) this.paused = true;
      }
    } catch (err) {
      this.failWith(err);
    }
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

import type { RpcError } from '../errors/rpc-error';
import { RpcStream } from './rpc-stream';

/** Default receive window of a stream: bytes of items it buffers before its writer must wait. */
export const DEFAULT_STREAM_WINDOW = 256 * 1024;

/** What an inbound stream tells the protocol that feeds it. */
export interface InboundStreamHooks {
  /**
   * The reader took items worth `bytes` out of the buffer: the writer may send that much more (a
   * credit frame, resuming a paused HTTP/2 stream). Batched: called once the credit step (by
   * default half the window) was read.
   */
  credit?(bytes: number): void;
  /**
   * The reader stopped early, or the call was cancelled or passed its deadline while the stream
   * was open: tell the writer to stop (a cancel frame, an RST_STREAM). Called at most once.
   */
  stop?(reason: RpcError): void;
}

/**
 * A stream a protocol feeds with the items it receives — a consumer reading a provider's stream,
 * a provider reading a consumer's argument stream. Items wait in a queue bounded by the window the
 * receiver granted: `push` reports when the writer went past it, so a protocol can pause the
 * transport or refuse a peer that ignores flow control (`overflowing`).
 *
 * Scope: one per streamed call and direction; event loop only.
 */
export class InboundStream<T = unknown> extends RpcStream<T> {
  private readonly items: T[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  private unacknowledged = 0;
  private stopped = false;

  /** Bytes read after which credit goes back to the writer. */
  private readonly creditStep: number;

  constructor(
    private readonly hooks: InboundStreamHooks = {},
    /** Bytes the writer may have in flight; the protocol tells the writer the same number. */
    readonly window = DEFAULT_STREAM_WINDOW,
    private readonly reader: 'consumer' | 'provider' = 'consumer',
    /**
     * Bytes the reader takes before credit goes back (default: half the window). A smaller step
     * keeps a writer whose credit needs time to arrive busy: with four steps to a window it
     * still has three quarters of the window to write while the credit for the first travels.
     */
    creditStep = window / 2,
  ) {
    super();
    this.creditStep = Math.max(1, Math.min(creditStep, window));
  }

  /** Bytes of items received and not yet read. */
  get buffered(): number {
    return this.bytes;
  }

  /** The writer sent more than twice the window without waiting for credit: a peer to refuse. */
  get overflowing(): boolean {
    return this.bytes > 2 * this.window;
  }

  /**
   * An item arrived (`size`: what it cost on the wire, counted against the window). Returns false
   * once the buffer holds a window or more: the writer is ahead of the reader. Items after the end
   * are dropped.
   */
  push(item: T, size: number): boolean {
    if (this.outcome !== undefined) return true;
    if (this.parked) {
      this.account(size);
      this.deliver(item);
      return true;
    }
    this.items.push(item);
    this.sizes.push(size);
    this.bytes += size;
    return this.bytes < this.window;
  }

  /** The writer ended the stream: the reader gets what is buffered, then the end. */
  end(): void {
    if (this.outcome !== undefined || this.pendingEnd) return;
    if (this.head < this.items.length) this.pendingEnd = true;
    else this.finish();
  }

  /** The writer failed: the reader gets what is buffered, then `err`. */
  error(err: RpcError): void {
    if (this.outcome !== undefined || this.pendingEnd) return;
    if (this.head < this.items.length) {
      this.pendingEnd = true;
      this.pendingError = err;
    } else this.fail(err);
  }

  private pendingEnd = false;
  private pendingError: RpcError | undefined = undefined;

  protected readerSide(): 'consumer' | 'provider' {
    return this.reader;
  }

  protected override read(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) return Promise.resolve({ done: false, value: this.take() });
    if (this.pendingEnd) {
      this.settlePending();
      return this.next();
    }
    return this.park();
  }

  protected override pull(): void {
    if (this.head < this.items.length) this.deliver(this.take());
    else if (this.pendingEnd) this.settlePending();
    // else: the read waits for push, end or error
  }

  /** The oldest buffered item, out of the queue and accounted for. */
  private take(): T {
    const head = this.head;
    const items = this.items;
    const item = items[head];
    const size = this.sizes[head];
    items[head] = undefined as T;
    this.head = head + 1;
    if (this.head === items.length) {
      items.length = 0;
      this.sizes.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > items.length) {
      items.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
    this.bytes -= size;
    this.account(size);
    return item;
  }

  private settlePending(): void {
    if (this.pendingError !== undefined) this.fail(this.pendingError);
    else this.finish();
  }

  protected closedByReader(reason: RpcError): void {
    this.drop();
    this.stopWriter(reason);
  }

  protected cancelled(reason: RpcError): void {
    this.drop();
    this.stopWriter(reason);
  }

  /** Gives credit back once `creditStep` bytes were read, so the writer is never starved nor chatty. */
  private account(size: number): void {
    this.unacknowledged += size;
    if (this.unacknowledged >= this.creditStep && this.hooks.credit !== undefined) {
      const bytes = this.unacknowledged;
      this.unacknowledged = 0;
      this.hooks.credit(bytes);
    }
  }

  private drop(): void {
    this.items.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
  }

  private stopWriter(reason: RpcError): void {
    if (this.stopped) return;
    this.stopped = true;
    this.hooks.stop?.(reason);
  }
}

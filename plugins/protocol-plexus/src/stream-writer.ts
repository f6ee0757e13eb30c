import { RpcCode, RpcError, type Compressor, type Serializer, type StreamSink } from '@plexus/kernel/spi';
import { encodeEvent, encodeStreamData } from './frame-codec';
import { encodeFailure, frameItem, ItemBatch, serializeItem } from './stream-codec';
import { EventKind } from './wire';

/** Bytes a writer sends in one run of promise jobs before it lets the transport flush (a quarter of the default window). */
const YIELD_BYTES = 64 * 1024;

/**
 * The writing half of a call's streams, shared by both sides: turns a pump's items into
 * `STREAM_DATA` frames within the reader's credit (`allowance`), waits for the transport to drain
 * when it is full, and — once the reader said it reads them — gathers the items that are ready in
 * the same turn into batched frames (see {@link ItemBatch}): one serializer call, one frame and
 * one credit check for a few hundred small items on this side, one decode on the reader's. A subclass says where frames go and
 * what the call is.
 *
 * Scope: one per streamed call; event loop only.
 */
export abstract class StreamWriter implements StreamSink<unknown> {
  /** Bytes the stream may still send before it waits for credit. */
  protected allowance = 0;
  private waitingDrain = false;
  /** The call is over: nothing more is sent for it. */
  protected over = false;
  /** Items gathered for one frame, once the reader reads batches. */
  private batch: ItemBatch | undefined = undefined;
  private flushScheduled = false;
  /** The pump is paused until the next tick (see `write`). */
  private yielding = false;
  /**
   * Bytes written since the pump last paused. Starts full, so that the first frame of a stream
   * leaves at once.
   */
  private unflushed = YIELD_BYTES;
  /** What the items belong to, for coded errors (made once, not per item). */
  private whatText: string | undefined = undefined;

  constructor(
    readonly id: number,
    /** RESPONSE bit of the frames: the provider writes the streamed answer. */
    private readonly response: boolean,
  ) {}

  /** Writes a frame of the call; false when the transport is over its high-water mark. */
  protected abstract writeFrame(frame: Buffer): boolean;
  /** Arranges for `drained()` once the transport drained. */
  protected abstract waitDrain(): void;
  /** Where the pump is, to resume it. */
  protected abstract resumePump(): void;
  /** Stops the pump (its source's `return()` runs): the stream failed in a frame sent later. */
  protected abstract stopPump(): void;
  /** What the items belong to (`the stream of svc.method`), for coded errors. */
  protected abstract describe(): string;
  protected abstract get writeSerializer(): Serializer;
  protected abstract get writeCompressor(): Compressor | undefined;
  protected abstract get compressThreshold(): number;
  protected abstract get payload(): number;
  protected abstract get sendStack(): boolean;

  /** The reader reads batched items: from now on items ready in the same turn share a frame. */
  batching(): void {
    // A compressed call keeps one item per frame: each is compressed alone above the threshold.
    const compressor = this.writeCompressor;
    if (compressor === undefined || compressor.id === 0) this.batch ??= new ItemBatch();
  }

  write(item: unknown): boolean {
    if (this.over) return false;
    const batch = this.batch;
    if (batch === undefined) {
      const what = this.what;
      const frame = frameItem(this.id, this.response, serializeItem(item, this.writeSerializer, what), this.writeCompressor, this.compressThreshold, this.payload, what);
      this.allowance -= frame.length;
      this.send(frame);
    } else {
      batch.items.push(item);
      if (batch.items.length >= batch.limit || batch.estimate >= this.allowance) {
        const err = this.flush();
        if (err !== undefined) throw err;
        if (this.unflushed >= YIELD_BYTES && this.allowance > 0 && !this.waitingDrain) {
          // Sent enough in this run of promise jobs: the pump pauses until the next tick, so the
          // transport's flush (queued for the end of the run) hands the frames to the socket now.
          // A source whose items are all ready would otherwise fill its whole credit before a byte
          // left: the reader waited that long for the first item of a stream (3.5 ms for a
          // 256 KiB window of small items), and for each quarter window after.
          this.unflushed = 0;
          this.yielding = true;
          process.nextTick(this.yieldTick);
          return false;
        }
      } else if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(this.flushTick);
      }
    }
    return this.allowance > 0 && !this.waitingDrain;
  }

  end(): void {
    if (this.over) return;
    const err = this.flush();
    if (err !== undefined) {
      this.writeFrame(encodeFailure(this.id, this.response, err, this.writeSerializer, this.sendStack, this.payload));
      return;
    }
    this.writeFrame(encodeEvent(EventKind.STREAM_END, this.id, this.response, false));
  }

  error(err: RpcError): void {
    if (this.over) return;
    this.flush(); // the items before the failure go first; if they cannot, `err` is still what ended the stream
    this.writeFrame(encodeFailure(this.id, this.response, err, this.writeSerializer, this.sendStack, this.payload));
  }

  /** The reader granted `bytes` more. */
  credited(bytes: number): void {
    this.allowance += bytes;
    if (this.allowance > 0 && !this.waitingDrain && !this.yielding) this.resumePump();
  }

  /** The transport drained. */
  drained(): void {
    this.waitingDrain = false;
    if (this.allowance > 0 && !this.yielding) this.resumePump();
  }

  private readonly yieldTick = (): void => {
    this.yielding = false;
    if (!this.over && this.allowance > 0 && !this.waitingDrain) this.resumePump();
  };

  /** Nothing more is written for the call; items gathered and not sent are dropped. */
  protected stopWriting(): void {
    this.over = true;
    if (this.batch !== undefined) this.batch.items.length = 0;
  }

  private get what(): string {
    return (this.whatText ??= this.describe());
  }

  /**
   * Sends the gathered items — at the end of the turn, when the batch is full, when it would use up
   * the credit, before the end — as one frame (several: a batched frame; one: a plain frame).
   * Returns the coded error of an item that cannot be sent, after the items before it went out;
   * the items after it are dropped (the stream fails there).
   */
  private flush(): RpcError | undefined {
    const batch = this.batch;
    if (batch === undefined) return undefined;
    const items = batch.items;
    const count = items.length;
    if (count === 0) return undefined;
    const payload = this.payload;
    if (count > 1) {
      let body: Uint8Array | undefined;
      try {
        body = this.writeSerializer.serialize(items);
      } catch {
        body = undefined; // an item the serializer refuses: found and reported below, one by one
      }
      if (body !== undefined && body.length <= payload) {
        items.length = 0;
        batch.learn(body.length, count);
        const frame = encodeStreamData(this.id, this.response, 0, body, true);
        this.allowance -= frame.length;
        this.send(frame);
        return undefined;
      }
    }
    // One item, or items that cannot share a frame: each goes alone, as a writer that does not batch sends it.
    const alone = count === 1 ? [items[0]] : items.slice();
    items.length = 0;
    const what = this.what;
    try {
      for (const item of alone) {
        const body = serializeItem(item, this.writeSerializer, what);
        const frame = frameItem(this.id, this.response, body, undefined, 0, payload, what);
        batch.learn(body.length, 1);
        this.allowance -= frame.length;
        this.send(frame);
      }
    } catch (err) {
      return RpcError.from(err, RpcCode.SERIALIZATION);
    }
    return undefined;
  }

  private readonly flushTick = (): void => {
    this.flushScheduled = false;
    if (this.over) return;
    const err = this.flush();
    if (err !== undefined) {
      // No pump call to throw into: the stream fails here, after the items that went out.
      this.writeFrame(encodeFailure(this.id, this.response, err, this.writeSerializer, this.sendStack, this.payload));
      this.stopPump();
    }
  };

  private send(frame: Buffer): void {
    this.unflushed += frame.length;
    if (!this.writeFrame(frame) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.waitDrain();
    }
  }
}

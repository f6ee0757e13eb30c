import {
  InboundStream,
  openProviderStream,
  StreamPump,
  type Compressor,
  type InboundStreamHooks,
  type Invocation,
  type Serializer,
} from '@plexus/kernel/spi';
import { encodeEvent, encodeStreamCredit } from './frame-codec';
import { CREDIT_STEPS } from './stream-codec';
import { StreamWriter } from './stream-writer';
import { EventKind } from './wire';

/** What a provider stream needs from the connection that carries its call. */
export interface ProviderStreamCarrier {
  /** Writes a frame of the call; returns false when the transport is over its high-water mark. */
  writeFrame(frame: Buffer): boolean;
  /** Calls `stream.drained()` once the transport drained. */
  waitDrain(stream: ProviderStream): void;
  /** The streamed answer's pump is over (ended, failed or stopped): the call is done. */
  streamDone(stream: ProviderStream): void;
  readonly sendStack: boolean;
  readonly payload: number;
  readonly compressThreshold: number;
}

/**
 * The streams of one provider call, both ways: the consumer's client stream the method reads
 * (`inbound`, given to it as the argument) and the streamed answer it returns (`pump`, reading the
 * method's `AsyncIterable` into `STREAM_DATA` frames within the consumer's window, batched when
 * the consumer's request said it reads batches). The hooks and the sink are this object's methods:
 * no closure per item.
 *
 * Scope: one per streamed call; event loop only.
 */
export class ProviderStream extends StreamWriter implements InboundStreamHooks {
  inbound: InboundStream | undefined = undefined;
  pump: StreamPump | undefined = undefined;
  /** The window the provider announced for the client stream, and the grant its writer went by. */
  inboundWindow = 0;

  /** The call; set once the invocation exists (the inbound stream is made before it). */
  invocation!: Invocation;

  constructor(
    id: number,
    private readonly carrier: ProviderStreamCarrier,
    /** Serializer of the call: its arguments, items both ways, errors. */
    readonly serializer: Serializer,
    /** What items may be compressed with both ways (the one the consumer accepts), if any. */
    readonly compressor: Compressor | undefined,
  ) {
    super(id, true);
  }

  /** The consumer's client stream, read by the method: replaces its nil argument. */
  openInbound(window: number): InboundStream {
    this.inboundWindow = window;
    this.inbound = new InboundStream(this, window, 'provider', window / CREDIT_STEPS);
    return this.inbound;
  }

  /**
   * Starts pumping the method's `AsyncIterable` within the consumer's `window`; with `batch` (the
   * consumer's request said it reads them) items ready in the same turn share a frame.
   */
  startAnswer(value: AsyncIterable<unknown>, window: number, batch: boolean): void {
    this.allowance = window;
    if (batch) this.batching();
    const pump = new StreamPump(openProviderStream(this.invocation, value), this, this.invocation);
    this.pump = pump;
    pump.start().then(this.pumped, this.pumped);
  }

  private readonly pumped = (): void => {
    this.over = true;
    this.carrier.streamDone(this);
  };

  // ---- the consumer's client stream, read by the method (InboundStreamHooks) ----

  credit(bytes: number): void {
    // BATCH: this provider reads the client stream's items batched.
    if (!this.over) this.carrier.writeFrame(encodeStreamCredit(this.id, true, bytes, true));
  }

  /** The method stopped reading the client stream (or the call ended): the consumer stops sending. */
  stop(): void {
    if (!this.over) this.carrier.writeFrame(encodeEvent(EventKind.CANCEL, this.id, true, false));
  }

  // ---- the streamed answer, sent to the consumer (StreamWriter) ----

  protected writeFrame(frame: Buffer): boolean {
    return this.carrier.writeFrame(frame);
  }

  protected waitDrain(): void {
    this.carrier.waitDrain(this);
  }

  protected resumePump(): void {
    this.pump?.resume();
  }

  protected stopPump(): void {
    this.pump?.stop();
  }

  protected describe(): string {
    return `the stream of ${this.invocation.serviceKey}.${this.invocation.method}`;
  }

  protected get writeSerializer(): Serializer {
    return this.serializer;
  }

  protected get writeCompressor(): Compressor | undefined {
    return this.compressor;
  }

  protected get compressThreshold(): number {
    return this.carrier.compressThreshold;
  }

  protected get payload(): number {
    return this.carrier.payload;
  }

  protected get sendStack(): boolean {
    return this.carrier.sendStack;
  }

  /**
   * Ends the call's streams from outside (the consumer cancelled, the connection dropped, the call
   * answered with one value): nothing more is written, the answer's generator gets its `return()`.
   */
  close(): void {
    this.stopWriting();
    this.pump?.stop();
  }

  /** True once the call is over. */
  get closed(): boolean {
    return this.over;
  }
}

import {
  InboundStream,
  openProviderStream,
  StreamPump,
  type Compressor,
  type InboundStreamHooks,
  type Invocation,
  type RpcError,
  type Serializer,
  type StreamSink,
} from '@plexus/kernel/spi';
import { encodeEvent, encodeStreamCredit } from './frame-codec';
import { encodeFailure, encodeItem } from './stream-codec';
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
 * method's `AsyncIterable` into `STREAM_DATA` frames within the consumer's window). The hooks and
 * the sink are this object's methods: no closure per item.
 *
 * Scope: one per streamed call; event loop only.
 */
export class ProviderStream implements InboundStreamHooks, StreamSink<unknown> {
  inbound: InboundStream | undefined = undefined;
  pump: StreamPump | undefined = undefined;
  /** The window the provider announced for the client stream, and the grant its writer went by. */
  inboundWindow = 0;
  /** Bytes the streamed answer may still send before it waits for credit. */
  private allowance = 0;
  private waitingDrain = false;
  /** The call is over: nothing more is sent for it. */
  private over = false;

  /** The call; set once the invocation exists (the inbound stream is made before it). */
  invocation!: Invocation;

  constructor(
    readonly id: number,
    private readonly carrier: ProviderStreamCarrier,
    /** Serializer of the call: its arguments, items both ways, errors. */
    readonly serializer: Serializer,
    /** What items may be compressed with both ways (the one the consumer accepts), if any. */
    readonly compressor: Compressor | undefined,
  ) {}

  /** The consumer's client stream, read by the method: replaces its nil argument. */
  openInbound(window: number): InboundStream {
    this.inboundWindow = window;
    this.inbound = new InboundStream(this, window, 'provider');
    return this.inbound;
  }

  /** Starts pumping the method's `AsyncIterable` within the consumer's `window`. */
  startAnswer(value: AsyncIterable<unknown>, window: number): void {
    this.allowance = window;
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
    if (!this.over) this.carrier.writeFrame(encodeStreamCredit(this.id, true, bytes));
  }

  /** The method stopped reading the client stream (or the call ended): the consumer stops sending. */
  stop(): void {
    if (!this.over) this.carrier.writeFrame(encodeEvent(EventKind.CANCEL, this.id, true, false));
  }

  // ---- the streamed answer, sent to the consumer (StreamSink) ----

  write(item: unknown): boolean {
    if (this.over) return false;
    const c = this.carrier;
    const inv = this.invocation;
    const frame = encodeItem(this.id, true, item, this.serializer, this.compressor, c.compressThreshold, c.payload, `the stream of ${inv.serviceKey}.${inv.method}`);
    this.allowance -= frame.length;
    if (!c.writeFrame(frame)) {
      this.waitingDrain = true;
      c.waitDrain(this);
      return false;
    }
    return this.allowance > 0;
  }

  end(): void {
    if (!this.over) this.carrier.writeFrame(encodeEvent(EventKind.STREAM_END, this.id, true, false));
  }

  error(err: RpcError): void {
    if (!this.over) this.carrier.writeFrame(encodeFailure(this.id, true, err, this.serializer, this.carrier.sendStack, this.carrier.payload));
  }

  // ---- from the connection ----

  /** The consumer granted `bytes` more for the streamed answer. */
  credited(bytes: number): void {
    this.allowance += bytes;
    if (this.allowance > 0 && !this.waitingDrain) this.pump?.resume();
  }

  drained(): void {
    this.waitingDrain = false;
    if (this.allowance > 0) this.pump?.resume();
  }

  /**
   * Ends the call's streams from outside (the consumer cancelled, the connection dropped, the call
   * answered with one value): nothing more is written, the answer's generator gets its `return()`.
   */
  close(): void {
    this.over = true;
    this.pump?.stop();
  }

  /** True once the call is over. */
  get closed(): boolean {
    return this.over;
  }
}

import {
  InboundStream,
  StreamPump,
  type Compressor,
  type InboundStreamHooks,
  type Invocation,
  type RpcError,
  type Serializer,
} from '@plexus/kernel/spi';
import { encodeStreamCredit } from './frame-codec';
import { CREDIT_STEPS } from './stream-codec';
import { StreamWriter } from './stream-writer';
import { DEFAULT_STREAM_WINDOW } from './wire';

/** What a consumer stream needs from the connection that carries its call. */
export interface StreamCarrier {
  readonly address: string;
  /** Writes a frame of the call; returns false when the transport is over its high-water mark. */
  writeFrame(frame: Buffer): boolean;
  /** Calls `stream.drained()` once the transport drained. */
  waitDrain(stream: ConsumerStream): void;
  /** The call is over on the stream's side (reader stopped, stream ended): forget it, tell the provider when `cancel`. */
  release(stream: ConsumerStream, cancel: boolean): void;
}

/**
 * The streams of one consumer call, both ways: the provider's streamed answer (`inbound`, an
 * `InboundStream` the caller reads) and the client stream the call sends (`pump`, reading the
 * `AsyncIterable` argument into `STREAM_DATA` frames within the provider's window, batched once
 * the provider said it reads batches). Allocated only for calls that stream; the hooks and the
 * sink are this object's methods, so a stream costs no closure per item.
 *
 * Scope: one per streamed call; event loop only.
 */
export class ConsumerStream extends StreamWriter implements InboundStreamHooks {
  inbound: InboundStream | undefined = undefined;
  pump: StreamPump | undefined = undefined;
  /** Serializer of the streamed answer's items (from the stream-start response). */
  itemSerializer: Serializer | undefined = undefined;

  constructor(
    id: number,
    readonly invocation: Invocation,
    private readonly carrier: StreamCarrier,
    /** The client stream to send, if the call has one. */
    private readonly source: AsyncIterable<unknown> | undefined,
    private readonly serializer: Serializer,
    private readonly compressor: Compressor | undefined,
    private readonly threshold: number,
    private readonly payloadLimit: number,
  ) {
    super(id, false);
    this.allowance = DEFAULT_STREAM_WINDOW;
  }

  /** The request frame went out: start sending the client stream, if any. */
  startPump(): void {
    if (this.source === undefined || this.pump !== undefined || this.over) return;
    this.pump = new StreamPump(this.source, this, this.invocation);
    void this.pump.start();
  }

  /** The provider answered "a stream follows": the stream the caller reads. */
  openInbound(window: number, serializer: Serializer, clientWindow: number): InboundStream {
    this.itemSerializer = serializer;
    // The provider's window for the client stream, when it announced one: what was sent so far
    // counts against it instead of against the default.
    if (clientWindow > 0) this.credited(clientWindow - DEFAULT_STREAM_WINDOW);
    const inbound = new InboundStream(this, window, 'consumer', window / CREDIT_STEPS);
    this.inbound = inbound;
    inbound.follow(this.invocation);
    return inbound;
  }

  // ---- the provider's stream, read by the caller (InboundStreamHooks) ----

  /** The caller read `bytes` of items: grant them back to the provider. */
  credit(bytes: number): void {
    if (!this.over) this.carrier.writeFrame(encodeStreamCredit(this.id, false, bytes));
  }

  /** The caller stopped reading (`break`, deadline, abort): the provider stops, the call is over. */
  stop(): void {
    if (this.over) return;
    this.carrier.release(this, true);
  }

  // ---- the client stream, sent to the provider (StreamWriter) ----

  protected writeFrame(frame: Buffer): boolean {
    return this.carrier.writeFrame(frame);
  }

  protected waitDrain(): void {
    this.carrier.waitDrain(this);
  }

  protected resumePump(): void {
    this.pump?.resume();
  }

  protected describe(): string {
    return `the stream argument of ${this.invocation.serviceKey}.${this.invocation.method}`;
  }

  protected get writeSerializer(): Serializer {
    return this.serializer;
  }

  protected get writeCompressor(): Compressor | undefined {
    return this.compressor;
  }

  protected get compressThreshold(): number {
    return this.threshold;
  }

  protected get payload(): number {
    return this.payloadLimit;
  }

  protected get sendStack(): boolean {
    return false;
  }

  // ---- from the connection ----

  /** The provider stopped reading the client stream (its method broke out of the loop). */
  stopPump(): void {
    this.pump?.stop();
  }

  /**
   * The call is over (its answer arrived, its stream ended or failed, it was cancelled): the
   * client stream stops (its `return()` runs) and nothing more is written for it.
   */
  finish(): void {
    this.stopWriting();
    this.pump?.stop();
  }

  /** The connection dropped (or closed): the caller's stream fails with `err`, the pump stops. */
  fail(err: RpcError): void {
    this.finish();
    this.inbound?.error(err);
  }
}

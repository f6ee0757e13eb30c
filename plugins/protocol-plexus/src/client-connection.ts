import {
  RpcCode,
  RpcError,
  isRpcCode,
  type Channel,
  type ChannelHandler,
  type ReadProgress,
  type ClientChannel,
  type ConnectOptions,
  type CancelListener,
  type Invocation,
  type Result,
  type WriteSlot,
} from '@plexus/kernel/spi';
import { ConsumerStream, type StreamCarrier } from './consumer-stream';
import { ProtocolErrors, rpcError } from './errors';
import { encodeEvent, HeaderReader, readVarintIn } from './frame-codec';
import { describeBytes, FrameDecoder, type FrameSink, type GarbageKind } from './frame-decoder';
import { PendingTable } from './pending-table';
import type { ProtocolCore } from './protocol-core';
import { batchError, frameSize, ignoresCredit, overflowError, pushBatch } from './stream-codec';
import { codeOfStatus, EventKind, FIXED_LENGTH, Flag, Status } from './wire';

/** Where a client connection stands. */
export const ConnectionState = {
  /** Never connected: the first call connects. */
  IDLE: 0,
  CONNECTING: 1,
  OPEN: 2,
  /** A connect failed or the connection dropped; the transport is reconnecting. */
  DOWN: 3,
  /** Destroyed for good. */
  CLOSED: 4,
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

// The promise executor is shared: capturing resolve/reject this way allocates no closure per call.
let capturedResolve: (result: Result) => void = () => undefined;
let capturedReject: (error: unknown) => void = () => undefined;
function capture(resolve: (result: Result) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * One two-way call waiting for its response. It listens for the kernel's cancel of its
 * invocation (deadline passed, caller aborted): then it leaves the pending table, a cancel frame
 * tells the provider to stop, and the caller gets the cancel's reason.
 */
export class PendingCall implements CancelListener {
  readonly promise: Promise<Result>;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: unknown) => void;
  /** Set when registered with a connection. */
  connection: ClientConnection | undefined = undefined;
  id = 0;
  /** The compressor id this call told the provider it can read (0: none); others are refused. */
  accept = 0;
  /** Its streams (a client stream it sends, the streamed answer it reads); only for calls that stream. */
  stream: ConsumerStream | undefined = undefined;
  constructor(readonly invocation: Invocation) {
    this.promise = new Promise<Result>(capture);
    this.resolve = capturedResolve;
    this.reject = capturedReject;
  }

  onCancel(reason: RpcError): void {
    this.connection?.cancel(this, reason);
  }
}

const ONE_WAY_RESULT: Result = Object.freeze({ value: undefined });
const EMPTY_FRAME = Buffer.alloc(0);

function callName(inv: Invocation): string {
  return `${inv.serviceKey}.${inv.method}`;
}

/**
 * One multiplexed connection to a provider address, shared by every reference to it. Holds the
 * calls in flight by numeric id. Deadlines are the kernel's: it cancels a call whose deadline
 * passed, and the call's `PendingCall` hears of it and sends a cancel frame. Scope: per provider address (× `connections`); the transport's callbacks
 * and the callers run on the one event loop, so no locking.
 */
export class ClientConnection implements ChannelHandler, FrameSink, StreamCarrier {
  state: ConnectionState = ConnectionState.IDLE;
  /** The provider announced it is shutting down; cleared when a new connection opens. */
  closing = false;
  /** Calls in flight by request id (not a `Map`: see {@link PendingTable}). */
  readonly pending = new PendingTable<PendingCall>();

  private channel: ClientChannel | undefined;
  private connectPromise: Promise<void> | undefined;
  /** Set by `closeWhenIdle` while answers are still due. */
  private idleCloseTimer: NodeJS.Timeout | undefined;
  /** Why the connection is down, for the errors of calls refused meanwhile (ECONNREFUSED, ...). */
  private lastFailure = 'the connection dropped';
  private decoder: FrameDecoder;
  private readonly header = new HeaderReader();
  /** Frames written before the connection opened: ids (0 for one-way) and frames, side by side. */
  private queuedIds: number[] = [];
  private queuedFrames: Buffer[] = [];
  /** The frame `beginFrame` made a buffer for (not a reserved slot), until `commitFrame`. */
  private ownFrame: Buffer | undefined = undefined;
  private readonly ownSlot: { buffer: Buffer; offset: number } = { buffer: EMPTY_FRAME, offset: 0 };
  private nextId = 1;
  /** Client streams paused until the transport drains. */
  private drainWaiters: ConsumerStream[] = [];

  constructor(
    private readonly core: ProtocolCore,
    readonly address: string,
    private readonly connectOptions: ConnectOptions,
  ) {
    this.decoder = new FrameDecoder(core.options.payload, this);
  }

  /** False while the provider is closing, the connection is down, or it was destroyed. */
  get available(): boolean {
    return !this.closing && this.state !== ConnectionState.DOWN && this.state !== ConnectionState.CLOSED;
  }

  /** A fresh request id; ids stay below 2^53 so they survive as JS numbers. */
  nextRequestId(): number {
    const id = this.nextId;
    this.nextId = id >= Number.MAX_SAFE_INTEGER ? 1 : id + 1;
    return id;
  }

  /**
   * The error for a call made while this connection cannot take it, or undefined when it can.
   * A down connection gets a reconnect nudge, and the call fails fast so failover can move on.
   */
  refusal(inv: Invocation): RpcError | undefined {
    if (this.state === ConnectionState.DOWN) {
      this.connect();
      return this.withRemote(rpcError(ProtocolErrors.NOT_CONNECTED, RpcCode.NETWORK, this.address, this.lastFailure));
    }
    if (this.state === ConnectionState.CLOSED) {
      return this.withRemote(rpcError(ProtocolErrors.CANCELLED, RpcCode.CANCELLED, callName(inv), this.address));
    }
    return undefined;
  }

  /**
   * Takes a two-way call in: pending by `id`, listening for its cancel. False when it was
   * cancelled already (then it is rejected, and nothing must be sent).
   */
  register(id: number, call: PendingCall): boolean {
    const cancelled = call.invocation.cancelled;
    if (cancelled !== undefined) {
      call.reject(cancelled);
      return false;
    }
    this.pending.set(id, call);
    call.connection = this;
    call.id = id;
    call.invocation.addCancelListener(call);
    return true;
  }

  /**
   * Where to encode the next outgoing frame of `length` bytes: in place in the channel's outgoing
   * bytes while open (when the transport can reserve), else in a buffer of its own. Fill it at
   * once, then {@link commitFrame}.
   */
  beginFrame(length: number): WriteSlot {
    const ch = this.channel;
    if (this.state === ConnectionState.OPEN && ch !== undefined && ch.reserve !== undefined && ch.isOpen) {
      this.ownFrame = undefined;
      return ch.reserve(length);
    }
    const own = Buffer.allocUnsafe(length);
    this.ownFrame = own;
    this.ownSlot.buffer = own;
    return this.ownSlot;
  }

  /** Sends the frame {@link beginFrame} handed out (`id` 0 for one-way); a started client stream pumps. */
  commitFrame(id: number, call?: PendingCall): void {
    const own = this.ownFrame;
    if (own !== undefined) {
      this.ownFrame = undefined;
      this.send(id, own);
    }
    if (call !== undefined && this.state === ConnectionState.OPEN) call.stream?.startPump();
  }

  /** What a one-way call resolves with once its frame was committed. */
  oneWaySent(): Promise<Result> {
    if (this.state === ConnectionState.OPEN) return Promise.resolve(ONE_WAY_RESULT);
    return (this.connectPromise as Promise<void>).then(() => ONE_WAY_RESULT);
  }

  /** Writes `frame` now when open, else queues it (by `id`, 0 for one-way) until the connection opens. */
  private send(id: number, frame: Buffer): void {
    if (this.state === ConnectionState.OPEN) {
      this.write(frame);
      return;
    }
    this.queuedIds.push(id);
    this.queuedFrames.push(frame);
    this.connect();
  }

  /**
   * A call given up by its caller (the kernel's deadline, an AbortSignal): forgotten here, the
   * provider told with a cancel frame so it can stop the work, the caller rejected with `reason`.
   */
  cancel(call: PendingCall, reason: RpcError): void {
    if (this.pending.get(call.id) !== call) return;
    this.pending.delete(call.id);
    this.closeIfReleased();
    if (this.state === ConnectionState.OPEN) this.write(encodeEvent(EventKind.CANCEL, call.id, false, false));
    call.stream?.finish();
    call.reject(reason);
  }

  // ---- streams (StreamCarrier) ----

  /** Writes a frame of a streamed call; false when the transport is over its high-water mark. */
  writeFrame(frame: Buffer): boolean {
    if (this.state !== ConnectionState.OPEN) return false;
    try {
      return (this.channel as ClientChannel).write(frame);
    } catch {
      return false; // closed under us: onClose fails the call
    }
  }

  waitDrain(stream: ConsumerStream): void {
    this.drainWaiters.push(stream);
  }

  /**
   * The streamed call `stream` is over on the consumer's side: forgotten here, its client stream
   * stopped, and with `cancel` the provider told to stop too (the reader broke out of its loop).
   */
  release(stream: ConsumerStream, cancel: boolean): void {
    const call = this.pending.get(stream.id);
    stream.finish();
    if (call === undefined || call.stream !== stream) return;
    this.pending.delete(stream.id);
    call.invocation.removeCancelListener(call);
    if (cancel && this.state === ConnectionState.OPEN) this.write(encodeEvent(EventKind.CANCEL, stream.id, false, false));
    this.closeIfReleased();
  }

  onDrain(): void {
    const waiters = this.drainWaiters;
    if (waiters.length === 0) return;
    this.drainWaiters = [];
    for (const stream of waiters) stream.drained();
  }

  /**
   * Closes once the calls in flight have their answers (or their deadlines cancel them), at the
   * latest after `maxWaitMs`: what a reference does when its provider leaves the registry list
   * (a graceful stop deregisters first and still answers what it accepted). New calls are not
   * sent here any more — the invokers using it are gone.
   */
  closeWhenIdle(maxWaitMs: number): void {
    if (this.state === ConnectionState.CLOSED) return;
    if (this.pending.size === 0) {
      this.close();
      return;
    }
    if (this.idleCloseTimer !== undefined) return;
    this.idleCloseTimer = setTimeout(() => this.close(), maxWaitMs);
    this.idleCloseTimer.unref();
  }

  /** Closes for good; calls in flight fail with `CANCELLED`. */
  close(): void {
    if (this.state === ConnectionState.CLOSED) return;
    this.state = ConnectionState.CLOSED;
    if (this.idleCloseTimer !== undefined) clearTimeout(this.idleCloseTimer);
    this.idleCloseTimer = undefined;
    this.failAll((call) => rpcError(ProtocolErrors.CANCELLED, RpcCode.CANCELLED, callName(call.invocation), this.address));
    this.decoder.destroy();
    this.channel?.destroy();
  }

  // ---- transport callbacks ----

  onOpen(channel: Channel): void {
    if (this.state === ConnectionState.CLOSED) return;
    this.state = ConnectionState.OPEN;
    this.closing = false;
    if (this.decoder.isDead || this.decoder.buffered > 0) this.decoder = new FrameDecoder(this.core.options.payload, this);
    const ids = this.queuedIds;
    const frames = this.queuedFrames;
    if (ids.length === 0) return;
    this.queuedIds = [];
    this.queuedFrames = [];
    try {
      for (let i = 0; i < ids.length; i++) {
        // A call that timed out while we connected is not sent at all.
        if (ids[i] === 0) channel.write(frames[i]);
        else {
          const call = this.pending.get(ids[i]);
          if (call === undefined) continue;
          channel.write(frames[i]);
          call.stream?.startPump();
        }
      }
    } catch {
      // Closed again at once: onClose fails the pending calls.
    }
  }

  onData(_channel: Channel, chunk: Buffer): ReadProgress {
    return this.decoder.push(chunk);
  }

  onIdle(channel: Channel, missed: number): void {
    if (missed >= this.core.options.heartbeatMisses) {
      const err = ProtocolErrors.IDLE(this.address, missed * this.core.options.heartbeat);
      this.core.logger.warn(err.message, { code: err.code, remote: this.address });
      channel.close(err);
      return;
    }
    if (channel.isOpen) channel.write(encodeEvent(EventKind.HEARTBEAT, this.nextRequestId(), false, true));
  }

  onClose(_channel: Channel, error?: Error): void {
    if (this.state === ConnectionState.CLOSED) return;
    this.state = ConnectionState.DOWN;
    this.decoder.destroy();
    const cause = error?.message ?? 'closed by the peer';
    this.lastFailure = `the connection closed: ${cause.split('\n')[0]}`;
    this.failAll((call) => rpcError(ProtocolErrors.DISCONNECTED, RpcCode.NETWORK, callName(call.invocation), this.address, cause));
  }

  // ---- frames ----

  onFrame(d: FrameDecoder, buf: Buffer, off: number): void {
    const flags = d.flags;
    if (flags & Flag.EVENT) {
      this.onEvent(d, buf, off);
      return;
    }
    if ((flags & Flag.RESPONSE) === 0) return; // consumers serve no calls
    const call = this.pending.get(d.id);
    if (call === undefined) return; // timed out or cancelled already
    const h = this.header;
    const hStart = off + FIXED_LENGTH;
    const bStart = hStart + d.headerLength;
    if (flags & Flag.STREAM && d.status === Status.OK) {
      this.openStream(call, h.read(buf, hStart, bStart));
      return;
    }
    this.pending.delete(d.id);
    this.closeIfReleased();
    // A single answer ends the call, and with it the client stream it may still be sending.
    call.stream?.finish();
    if (!h.read(buf, hStart, bStart)) {
      call.reject(this.withRemote(rpcError(ProtocolErrors.BAD_HEADER, RpcCode.BAD_RESPONSE, 'response')));
      return;
    }
    if (d.status === Status.OK) {
      let value: unknown;
      if (d.bodyLength > 0) {
        try {
          value = this.decodeBody(buf, bStart, bStart + d.bodyLength, call.invocation, 'the result', call.accept);
        } catch (err) {
          call.reject(err);
          return;
        }
      }
      call.resolve(h.attachments === undefined ? { value } : { value, attachments: h.attachments });
      return;
    }
    call.reject(this.errorOf(d.status, buf, bStart, bStart + d.bodyLength, call.invocation));
  }

  onOversize(d: FrameDecoder): void {
    if ((d.flags & Flag.RESPONSE) === 0) return;
    if (d.flags & Flag.EVENT) {
      // An item over the limit: the stream fails (coded) and the provider is told to stop.
      const st = d.event === EventKind.STREAM_DATA ? this.pending.get(d.id)?.stream : undefined;
      if (st?.inbound !== undefined) {
        const what = `an item of the stream of ${callName(st.invocation)} from ${this.address}`;
        st.invocation.cancel(this.withRemote(rpcError(ProtocolErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, what, d.headerLength + d.bodyLength, this.core.options.payload)));
      }
      return;
    }
    const call = this.pending.get(d.id);
    if (call === undefined) return;
    this.pending.delete(d.id);
    this.closeIfReleased();
    call.stream?.finish();
    const what = `the response to ${callName(call.invocation)} from ${this.address}`;
    call.reject(
      this.withRemote(
        rpcError(ProtocolErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, what, d.headerLength + d.bodyLength, this.core.options.payload),
      ),
    );
  }

  onGarbage(_d: FrameDecoder, kind: GarbageKind, sample: Buffer): void {
    const err =
      kind === 'version'
        ? ProtocolErrors.BAD_VERSION(`to ${this.address}`, sample[2])
        : ProtocolErrors.BAD_MAGIC(`to ${this.address}`, describeBytes(sample));
    this.core.logger.warn(err.message, { code: err.code, remote: this.address });
    this.channel?.close(err);
  }

  // ---- internals ----

  private connect(): void {
    if (this.state === ConnectionState.CLOSED || this.state === ConnectionState.OPEN) return;
    if (this.state !== ConnectionState.DOWN) this.state = ConnectionState.CONNECTING;
    if (this.connectPromise !== undefined) return;
    let dial: Promise<void>;
    try {
      this.channel ??= this.core.transport().connect(this.connectOptions, this);
      dial = this.channel.connect();
    } catch (err) {
      dial = Promise.reject(err); // no transport, bad options: fail like a refused connect
    }
    const attempt = dial.then(
      () => {
        this.connectPromise = undefined;
        // Some transports report the open through the promise only.
        if (this.state !== ConnectionState.OPEN && this.channel?.isOpen) this.onOpen(this.channel);
      },
      (err: unknown) => {
        this.connectPromise = undefined;
        const cause = err instanceof Error ? err.message : String(err);
        this.lastFailure = cause.split('\n')[0];
        const error = this.withRemote(rpcError(ProtocolErrors.CONNECT, RpcCode.NETWORK, this.address, cause));
        if (this.state !== ConnectionState.CLOSED && this.state !== ConnectionState.OPEN) {
          this.state = ConnectionState.DOWN;
          this.failAll(() => error);
        }
        throw error;
      },
    );
    this.connectPromise = attempt;
    // Two-way callers learn of failures through their pending entries; only one-way ones await this.
    attempt.catch(() => undefined);
  }

  /** A connection released with answers still due closes when the last one arrived. */
  private closeIfReleased(): void {
    if (this.idleCloseTimer !== undefined && this.pending.size === 0) queueMicrotask(() => this.close());
  }

  private write(frame: Buffer): void {
    try {
      (this.channel as ClientChannel).write(frame);
    } catch {
      // The channel closed under us: onClose fails the pending calls.
    }
  }

  private failAll(makeError: (call: PendingCall) => RpcError): void {
    this.queuedIds = [];
    this.queuedFrames = [];
    this.drainWaiters = [];
    if (this.pending.size === 0) return;
    const calls = this.pending.values();
    this.pending.clear();
    for (const call of calls) {
      const err = this.withRemote(makeError(call));
      call.reject(err);
      // A stream already handed to its reader fails there, after the items it holds.
      call.stream?.fail(err);
    }
  }

  /** The provider answered `call` with "a stream follows" (`headerOk`: its header parsed). */
  private openStream(call: PendingCall, headerOk: boolean): void {
    const h = this.header;
    const serializer = headerOk ? this.core.codecs.serializerById(h.serializerId) : undefined;
    if (serializer === undefined) {
      const err = headerOk
        ? rpcError(ProtocolErrors.UNKNOWN_SERIALIZER, RpcCode.SERIALIZATION, h.serializerId, 'consumer')
        : rpcError(ProtocolErrors.BAD_HEADER, RpcCode.BAD_RESPONSE, 'response');
      if (call.stream !== undefined) this.release(call.stream, true);
      else {
        this.pending.delete(call.id);
        if (this.state === ConnectionState.OPEN) this.write(encodeEvent(EventKind.CANCEL, call.id, false, false));
        this.closeIfReleased();
      }
      call.reject(this.withRemote(err));
      return;
    }
    const o = this.core.options;
    const st = (call.stream ??= new ConsumerStream(call.id, call.invocation, this, undefined, serializer, undefined, 0, o.payload));
    // The provider reads our client stream batched from here on.
    if (this.decoder.flags & Flag.BATCH) st.batching();
    const inbound = st.openInbound(o.streamWindow, serializer, h.streamWindow);
    call.resolve(h.attachments === undefined ? { value: inbound } : { value: inbound, attachments: h.attachments });
  }

  /** A stream frame from the provider for one of our calls. */
  private onStreamEvent(d: FrameDecoder, buf: Buffer, off: number): void {
    const call = this.pending.get(d.id);
    const st = call?.stream;
    if (st === undefined) return; // a finished or unknown stream: dropped
    switch (d.event) {
      case EventKind.STREAM_DATA:
        this.onItem(call as PendingCall, st, d, buf, off);
        return;
      case EventKind.STREAM_END:
        if (st.inbound === undefined) return;
        st.inbound.end();
        this.release(st, false);
        return;
      case EventKind.STREAM_ERROR: {
        const inbound = st.inbound;
        if (inbound === undefined) return;
        const hStart = off + FIXED_LENGTH;
        const bStart = hStart + d.headerLength;
        const err = this.header.read(buf, hStart, bStart)
          ? this.errorOf(d.status, buf, bStart, bStart + d.bodyLength, st.invocation)
          : this.withRemote(rpcError(ProtocolErrors.BAD_HEADER, RpcCode.BAD_RESPONSE, 'stream error'));
        this.release(st, false);
        inbound.error(err);
        return;
      }
      case EventKind.STREAM_CREDIT: {
        const start = off + FIXED_LENGTH + d.headerLength;
        const n = readVarintIn(buf, start, start + d.bodyLength);
        if (d.flags & Flag.BATCH) st.batching();
        if (n > 0) st.credited(n);
        return;
      }
      case EventKind.CANCEL:
        st.stopPump(); // the provider stopped reading our client stream; its answer is still due
        return;
    }
  }

  /**
   * One `STREAM_DATA` frame of a streamed answer: its item (or, with the `BATCH` flag, its items)
   * decoded and queued for the reader, within the window.
   */
  private onItem(call: PendingCall, st: ConsumerStream, d: FrameDecoder, buf: Buffer, off: number): void {
    const inbound = st.inbound;
    if (inbound === undefined || inbound.closed) return;
    const hStart = off + FIXED_LENGTH;
    const bStart = hStart + d.headerLength;
    const bEnd = bStart + d.bodyLength;
    const size = frameSize(d.headerLength, d.bodyLength);
    try {
      if (d.headerLength > 0 && !this.header.read(buf, hStart, bStart)) {
        throw this.withRemote(rpcError(ProtocolErrors.BAD_HEADER, RpcCode.BAD_RESPONSE, 'stream item'));
      }
      const compressorId = d.headerLength > 0 ? this.header.compressorId : 0;
      if ((d.flags & Flag.BATCH) === 0) {
        inbound.push(this.decodeItem(buf, bStart, bEnd, st, compressorId, call.accept), size);
      } else {
        // A batch is never compressed; its frame's bytes are shared out among its items.
        const items = compressorId === 0 ? this.decodeItem(buf, bStart, bEnd, st, 0, 0) : undefined;
        if (!Array.isArray(items) || items.length === 0) throw this.badBatch(st);
        pushBatch(inbound, items, size);
      }
    } catch (err) {
      st.invocation.cancel(RpcError.from(err, RpcCode.BAD_RESPONSE));
      return;
    }
    if (ignoresCredit(inbound, size, inbound.window)) {
      const err = this.withRemote(overflowError(`the stream of ${callName(st.invocation)}`, this.address, inbound.buffered, inbound.window));
      this.core.logger.warn(err.message, { code: err.reason, remote: this.address });
      st.invocation.cancel(err);
    }
  }

  private badBatch(st: ConsumerStream): RpcError {
    return this.withRemote(batchError(`the stream of ${callName(st.invocation)}`, RpcCode.BAD_RESPONSE));
  }

  private decodeItem(buf: Buffer, start: number, end: number, st: ConsumerStream, compressorId: number, accept: number): unknown {
    const serializer = st.itemSerializer as NonNullable<ConsumerStream['itemSerializer']>;
    let body: Uint8Array = buf.subarray(start, end);
    if (compressorId !== 0) {
      const what = `an item of the stream of ${callName(st.invocation)}`;
      if (compressorId !== accept) throw this.withRemote(rpcError(ProtocolErrors.UNASKED_COMPRESSOR, RpcCode.BAD_RESPONSE, what, compressorId));
      const compressor = this.core.codecs.compressorById(compressorId);
      if (compressor === undefined) throw this.withRemote(rpcError(ProtocolErrors.UNKNOWN_COMPRESSOR, RpcCode.SERIALIZATION, compressorId, 'consumer'));
      try {
        body = compressor.decompress(body, this.core.options.payload);
      } catch (err) {
        if (RpcError.is(err) && err.code === RpcCode.PAYLOAD_TOO_LARGE) throw this.withRemote(err);
        throw this.withRemote(rpcError(ProtocolErrors.DESERIALIZE, RpcCode.BAD_RESPONSE, what, compressor.name, (err as Error).message));
      }
    }
    try {
      return serializer.deserialize(body);
    } catch (err) {
      // The message is made only for the failure: a stream decodes many items.
      throw this.withRemote(rpcError(ProtocolErrors.DESERIALIZE, RpcCode.BAD_RESPONSE, `an item of the stream of ${callName(st.invocation)}`, serializer.name, (err as Error).message));
    }
  }

  private onEvent(d: FrameDecoder, buf: Buffer, off: number): void {
    if (d.event >= EventKind.STREAM_DATA || (d.event === EventKind.CANCEL && d.flags & Flag.RESPONSE)) {
      if (d.flags & Flag.RESPONSE) this.onStreamEvent(d, buf, off);
      return;
    }
    if (d.event === EventKind.HEARTBEAT) {
      if ((d.flags & (Flag.RESPONSE | Flag.ONE_WAY)) === 0 && this.state === ConnectionState.OPEN) {
        this.write(encodeEvent(EventKind.HEARTBEAT, d.id, true, false));
      }
    } else if (d.event === EventKind.CLOSING) {
      if (!this.closing) this.core.logger.info(`provider ${this.address} is shutting down; no new calls go to it`);
      this.closing = true;
    }
  }

  private decodeBody(buf: Buffer, start: number, end: number, inv: Invocation, what: string, accept = 0): unknown {
    const h = this.header;
    const serializer = this.core.codecs.serializerById(h.serializerId);
    if (serializer === undefined) {
      throw this.withRemote(rpcError(ProtocolErrors.UNKNOWN_SERIALIZER, RpcCode.SERIALIZATION, h.serializerId, 'consumer'));
    }
    let inflated: Uint8Array | undefined;
    if (h.compressorId !== 0) {
      // Only the compressor this call offered is inflated: a provider cannot make the consumer run
      // another decompressor (or a bomb in one) it never asked for.
      if (h.compressorId !== accept) {
        throw this.withRemote(rpcError(ProtocolErrors.UNASKED_COMPRESSOR, RpcCode.BAD_RESPONSE, `${what} of ${callName(inv)}`, h.compressorId));
      }
      const compressor = this.core.codecs.compressorById(h.compressorId);
      if (compressor === undefined) {
        throw this.withRemote(rpcError(ProtocolErrors.UNKNOWN_COMPRESSOR, RpcCode.SERIALIZATION, h.compressorId, 'consumer'));
      }
      try {
        inflated = compressor.decompress(buf.subarray(start, end), this.core.options.payload);
      } catch (err) {
        if (RpcError.is(err) && err.code === RpcCode.PAYLOAD_TOO_LARGE) throw this.withRemote(err);
        throw this.withRemote(
          rpcError(ProtocolErrors.DESERIALIZE, RpcCode.BAD_RESPONSE, `${what} of ${callName(inv)}`, compressor.name, (err as Error).message),
        );
      }
    }
    try {
      if (inflated !== undefined) return serializer.deserialize(inflated);
      // In place when the serializer can: no view of the body, and its per-buffer state is shared by the frames of one read.
      return serializer.deserializeRange !== undefined ? serializer.deserializeRange(buf, start, end) : serializer.deserialize(buf.subarray(start, end));
    } catch (err) {
      throw this.withRemote(
        rpcError(ProtocolErrors.DESERIALIZE, RpcCode.BAD_RESPONSE, `${what} of ${callName(inv)}`, serializer.name, (err as Error).message),
      );
    }
  }

  /** The error an error response stands for: its serialized wire form, or its header entries. */
  private errorOf(status: number, buf: Buffer, start: number, end: number, inv: Invocation): RpcError {
    const code = codeOfStatus(status);
    const h = this.header;
    if (end > start) {
      try {
        const wire = this.decodeBody(buf, start, end, inv, 'the error');
        if (typeof wire === 'object' && wire !== null) {
          const w = wire as Record<string, unknown>;
          if (!isRpcCode(w.code)) w.code = code;
          return RpcError.fromWire(w, this.address);
        }
      } catch (err) {
        return RpcError.from(err, RpcCode.BAD_RESPONSE);
      }
    }
    return new RpcError(h.errorMessage ?? `provider ${this.address} answered ${callName(inv)} with ${code}`, code, {
      reason: h.errorReason,
      remote: this.address,
    });
  }

  private withRemote(err: RpcError): RpcError {
    err.remote ??= this.address;
    return err;
  }
}

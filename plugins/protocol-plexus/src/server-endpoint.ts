import {
  isAsyncIterable,
  isRpcCode,
  openProviderStream,
  RpcCode,
  RpcError,
  type Channel,
  type ChannelHandler,
  type ReadProgress,
  type Compressor,
  type Invocation,
  type Result,
  type Serializer,
  SERIALIZER_LIMIT_REASON,
  type CallReply,
  type ServiceInvoker,
  type TransportServer,
  type WriteSlot,
} from '@plexus/kernel/spi';
import { cancelledByConsumer, connectionLost, ProtocolErrors, rpcError } from './errors';
import {
  DEFAULT_MAX_ATTACHMENTS,
  encodeErrorResponse,
  encodeEvent,
  encodeResponse,
  serializeBody,
  writeResponse,
  encodeStreamStart,
  HeaderReader,
  readVarintIn,
  responseHeaderSize,
} from './frame-codec';
import { ProviderStream, type ProviderStreamCarrier } from './provider-stream';
import { batchError, frameSize, ignoresCredit, overflowError, pushBatch } from './stream-codec';
import { acceptsCompressor, configuredCompressors, GuardErrors, hasMethod } from './request-guard';
import { describeBytes, FrameDecoder, type FrameSink, type GarbageKind } from './frame-decoder';
import { PendingTable } from './pending-table';
import type { ProtocolCore } from './protocol-core';
import { codeOfStatus, DEFAULT_STREAM_WINDOW, EventKind, FIXED_LENGTH, Flag, Status, statusOfCode } from './wire';

const EMPTY = new Uint8Array(0);

/**
 * One listening server and the services routed through it by service key. Scope: per listen
 * address; shared by every service exported there.
 */
export class ServerEndpoint implements ChannelHandler {
  readonly services = new Map<string, ServiceInvoker>();
  server: TransportServer | undefined;
  /** Settles when the server listens (rejects when it cannot). */
  listening: Promise<TransportServer> | undefined;

  constructor(readonly core: ProtocolCore) {}

  /** `host:port` (or socket path) the server is bound to. */
  get address(): string {
    return this.server?.address ?? '(not listening)';
  }

  /** Tells every connected consumer that this provider is closing. */
  announceClosing(): void {
    if (!this.server) return;
    for (const channel of this.server.channels()) sendClosing(channel);
  }

  onOpen(channel: Channel): void {
    channel.state = new ProviderConnection(this, channel);
    if (this.core.draining) sendClosing(channel);
  }

  onData(channel: Channel, chunk: Buffer): ReadProgress {
    let conn = channel.state as ProviderConnection | undefined;
    if (!(conn instanceof ProviderConnection)) {
      this.onOpen(channel);
      conn = channel.state as ProviderConnection;
    }
    return conn.decoder.push(chunk);
  }

  onIdle(channel: Channel, missed: number): void {
    const { heartbeatMisses, heartbeat } = this.core.options;
    if (missed >= heartbeatMisses) {
      const err = ProtocolErrors.IDLE(channel.remoteAddress, missed * heartbeat);
      this.core.logger.warn(err.message, { code: err.code, remote: channel.remoteAddress });
      channel.close(err);
      return;
    }
    if (channel.isOpen) channel.write(encodeEvent(EventKind.HEARTBEAT, 0, false, true));
  }

  onDrain(channel: Channel): void {
    const conn = channel.state as ProviderConnection | undefined;
    if (conn instanceof ProviderConnection) conn.onDrain();
  }

  onClose(channel: Channel, error?: Error): void {
    const conn = channel.state as ProviderConnection | undefined;
    if (!(conn instanceof ProviderConnection)) return;
    conn.decoder.destroy();
    // Streams stop first, so nothing more is written for them; the cancel below runs their finally.
    conn.closeStreams();
    if (conn.running.size === 0) return;
    // Nobody is left to answer: the calls' signals abort so implementations can stop early.
    const reason = connectionLost(channel.remoteAddress, error?.message ?? 'closed by the peer');
    for (const inv of conn.running.values()) inv.cancel(reason);
    conn.running.clear();
  }
}

function sendClosing(channel: Channel): void {
  if (!channel.isOpen) return;
  try {
    channel.write(encodeEvent(EventKind.CLOSING, 0, false, false));
  } catch {
    // closed meanwhile
  }
}

/**
 * The provider side of one consumer connection: decodes requests, runs them through the service
 * invoker and writes the responses, in whatever order they finish. Scope: per connection.
 */
export class ProviderConnection implements FrameSink, ProviderStreamCarrier {
  readonly decoder: FrameDecoder;
  /**
   * Two-way calls running now, by request id, so a cancel frame or a dropped connection stops them
   * (not a `Map`: see {@link PendingTable}; its hash is seeded, as the ids are the peer's).
   */
  readonly running = new PendingTable<Invocation>();
  /** Calls with an open stream either way, by request id (at most `maxStreams`). */
  readonly streams = new PendingTable<ProviderStream>();
  private readonly header = new HeaderReader();
  /** Streamed answers paused until the transport drains. */
  private drainWaiters: ProviderStream[] = [];

  constructor(
    private readonly endpoint: ServerEndpoint,
    private readonly channel: Channel,
  ) {
    this.decoder = new FrameDecoder(endpoint.core.options.payload, this);
  }

  onFrame(d: FrameDecoder, buf: Buffer, off: number): void {
    const flags = d.flags;
    if (flags & Flag.EVENT) {
      if (d.event === EventKind.HEARTBEAT && (flags & (Flag.RESPONSE | Flag.ONE_WAY)) === 0) {
        this.write(encodeEvent(EventKind.HEARTBEAT, d.id, true, false));
      } else if (flags & Flag.RESPONSE) {
        // nothing a provider awaits
      } else if (d.event === EventKind.CANCEL) {
        // The pump stops before anything else is written; the cancel then runs the generator's finally.
        this.streams.get(d.id)?.close();
        this.running.get(d.id)?.cancel(cancelledByConsumer(this.channel.remoteAddress));
      } else if (d.event >= EventKind.STREAM_DATA) {
        this.onStreamEvent(d, buf, off);
      }
      return;
    }
    if (flags & Flag.RESPONSE) return; // providers await no responses
    const id = d.id;
    const oneWay = (flags & Flag.ONE_WAY) !== 0;
    const core = this.endpoint.core;
    // While draining, two-way calls are refused (retryable elsewhere: the consumer sees it). A
    // one-way call has nobody to tell, so it is run rather than dropped: the drain waits for it.
    if (core.draining && !oneWay) {
      this.fail(id, oneWay, Status.SHUTTING_DOWN, ProtocolErrors.SHUTTING_DOWN(this.endpoint.address));
      return;
    }
    const h = this.header;
    const hStart = off + FIXED_LENGTH;
    const bStart = hStart + d.headerLength;
    const bEnd = bStart + d.bodyLength;
    h.maxAttachments = maxAttachmentsOf(core.options);
    if (!h.read(buf, hStart, bStart)) {
      this.fail(id, oneWay, Status.BAD_REQUEST, h.overflow === undefined ? ProtocolErrors.BAD_HEADER('request') : headerLimitError(h));
      return;
    }
    const service = this.endpoint.services.get(h.service);
    if (service === undefined) {
      this.fail(id, oneWay, Status.SERVICE_NOT_FOUND, ProtocolErrors.SERVICE_NOT_FOUND(h.service || '(none given)', this.endpoint.address));
      return;
    }
    const method = h.method ?? (h.methodIndex >= 0 ? h.methodIndex : undefined);
    if (method === undefined) {
      this.fail(id, oneWay, Status.BAD_REQUEST, ProtocolErrors.BAD_REQUEST('the request names no method'));
      return;
    }
    // Checked before the body is touched: a call to a method that does not exist costs no decoding.
    if (!hasMethod(service, method)) {
      this.fail(id, oneWay, Status.METHOD_NOT_FOUND, methodNotFound(service, method));
      return;
    }
    const streamArg = h.streamArg;
    if (streamArg >= 0) {
      if (oneWay) return; // a client stream on a one-way call has nobody to answer; its items are dropped
      if (this.streams.size >= core.options.maxStreams) {
        this.fail(id, oneWay, Status.LIMIT_EXCEEDED, ProtocolErrors.TOO_MANY_STREAMS(`${h.service}.${String(method)}`, this.channel.remoteAddress, core.options.maxStreams));
        return;
      }
    }
    const consumerWindow = h.streamWindow > 0 ? h.streamWindow : DEFAULT_STREAM_WINDOW;
    const serializer = core.codecs.serializerById(h.serializerId);
    if (serializer === undefined) {
      this.fail(id, oneWay, Status.SERIALIZATION_ERROR, ProtocolErrors.UNKNOWN_SERIALIZER(h.serializerId, 'provider'));
      return;
    }
    let body: Uint8Array | undefined;
    if (h.compressorId !== 0) {
      const compressor = core.codecs.compressorById(h.compressorId);
      if (compressor === undefined) {
        this.fail(id, oneWay, Status.SERIALIZATION_ERROR, ProtocolErrors.UNKNOWN_COMPRESSOR(h.compressorId, 'provider'));
        return;
      }
      // Only what the service is configured with: no peer picks the inflation ratio it likes.
      if (!acceptsCompressor(service, h.compressorId, core.codecs, core.options)) {
        this.fail(id, oneWay, Status.SERIALIZATION_ERROR, GuardErrors.COMPRESSOR_REFUSED(h.service, compressor.name, configuredCompressors(service, core.options)));
        return;
      }
      try {
        body = compressor.decompress(buf.subarray(bStart, bEnd), core.options.payload);
      } catch (err) {
        if (RpcError.is(err) && err.code === RpcCode.PAYLOAD_TOO_LARGE) {
          // a small body that inflates past the limit (a compression bomb) is refused like a large one
          this.failWith(id, oneWay, Status.PAYLOAD_TOO_LARGE, err.message, err.reason);
        } else {
          this.fail(id, oneWay, Status.SERIALIZATION_ERROR, ProtocolErrors.DESERIALIZE('the request body', compressor.name, RpcError.from(err).message));
        }
        return;
      }
    }
    let args: unknown;
    try {
      if (body !== undefined) args = body.length === 0 ? [] : serializer.deserialize(body);
      else if (bEnd === bStart) args = [];
      // In place when the serializer can: no view of the body, and its per-buffer state is shared by the frames of one read.
      else args = serializer.deserializeRange !== undefined ? serializer.deserializeRange(buf, bStart, bEnd) : serializer.deserialize(buf.subarray(bStart, bEnd));
    } catch (err) {
      const what = `the arguments of ${h.service}.${String(method)}`;
      const e = RpcError.from(err);
      // a decode limit keeps its own reason, so the caller learns which limit and how to raise it
      if (e.reason === SERIALIZER_LIMIT_REASON) this.failWith(id, oneWay, Status.SERIALIZATION_ERROR, `${what}: ${e.message}`, e.reason);
      else this.fail(id, oneWay, Status.SERIALIZATION_ERROR, ProtocolErrors.DESERIALIZE(what, serializer.name, e.message));
      return;
    }
    if (!Array.isArray(args)) {
      this.fail(id, oneWay, Status.BAD_REQUEST, ProtocolErrors.BAD_REQUEST('the body is not an array of arguments'));
      return;
    }
    // The response goes out compressed only when the consumer said it can read that compressor.
    // Only with a compressor the service is configured with, so a caller cannot make the provider
    // spend gzip's CPU on every response; otherwise the response goes out plain (always readable).
    const responseCompressor =
      h.acceptCompressorId !== 0 && acceptsCompressor(service, h.acceptCompressorId, core.codecs, core.options)
        ? core.codecs.compressorById(h.acceptCompressorId)
        : undefined;
    let stream: ProviderStream | undefined;
    if (streamArg >= 0) {
      if (streamArg >= args.length) {
        this.fail(id, oneWay, Status.BAD_REQUEST, ProtocolErrors.BAD_REQUEST(`STREAM_ARG ${streamArg} points past the ${args.length} arguments`));
        return;
      }
      stream = new ProviderStream(id, this, serializer, responseCompressor);
      args[streamArg] = stream.openInbound(core.options.streamWindow);
    }
    let inv: Invocation;
    try {
      inv = service.createInvocation({
        method,
        args,
        attachments: h.attachments ?? {},
        remoteAddress: this.channel.remoteAddress,
        timeout: h.timeout,
        // The consumer holds the call to its deadline and sends a cancel frame when it gives up;
        // the provider keeps a timer only when its own `timeout` ends first.
        callerWatches: true,
      });
    } catch (err) {
      const e = RpcError.from(err, RpcCode.BAD_REQUEST);
      this.failWith(id, oneWay, statusOfCode(e.code), e.message, e.reason);
      return;
    }
    if (stream !== undefined) {
      stream.invocation = inv;
      stream.inbound!.follow(inv);
      this.streams.set(id, stream);
    }
    core.requestStarted();
    this.run(service, inv, id, oneWay, serializer, responseCompressor, stream, consumerWindow, (flags & Flag.BATCH) !== 0);
  }

  onOversize(d: FrameDecoder): void {
    if ((d.flags & (Flag.EVENT | Flag.RESPONSE)) === Flag.EVENT && d.event === EventKind.STREAM_DATA) {
      // An item over the limit: the client stream fails (coded) and the call is cancelled.
      const st = this.streams.get(d.id);
      if (st?.inbound !== undefined && !st.closed) {
        const inv = st.invocation;
        const what = `an item of the stream argument of ${inv.serviceKey}.${inv.method}`;
        inv.cancel(rpcError(ProtocolErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, what, d.headerLength + d.bodyLength, this.endpoint.core.options.payload));
      }
      return;
    }
    if (d.flags & (Flag.EVENT | Flag.RESPONSE)) return;
    const { payload } = this.endpoint.core.options;
    const err = ProtocolErrors.PAYLOAD_TOO_LARGE('the request', d.headerLength + d.bodyLength, payload);
    this.fail(d.id, (d.flags & Flag.ONE_WAY) !== 0, Status.PAYLOAD_TOO_LARGE, err);
  }

  onGarbage(_d: FrameDecoder, kind: GarbageKind, sample: Buffer): void {
    const remote = `from ${this.channel.remoteAddress}`;
    const err = kind === 'version' ? ProtocolErrors.BAD_VERSION(remote, sample[2]) : ProtocolErrors.BAD_MAGIC(remote, describeBytes(sample));
    this.endpoint.core.logger.warn(err.message, { code: err.code, remote: this.channel.remoteAddress });
    this.channel.close(err);
  }

  /**
   * Runs the call and writes its answer, taking the outcome by callback (`dispatch`) when the
   * service offers it: no async function and no promise of the protocol's own — on the provider
   * every promise also pays the call context's async hooks.
   */
  private run(
    service: ServiceInvoker,
    inv: Invocation,
    id: number,
    oneWay: boolean,
    serializer: Serializer,
    compressor: Compressor | undefined,
    stream: ProviderStream | undefined,
    window: number,
    batch: boolean,
  ): void {
    if (!oneWay) this.running.set(id, inv);
    const reply = new Reply(this, id, inv, oneWay, serializer, compressor, stream, window, batch);
    if (service.dispatch !== undefined) {
      service.dispatch(inv, reply);
      return;
    }
    let running: Promise<Result>;
    try {
      running = service.invoke(inv);
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (result) => reply.resolved(result),
      (error: unknown) => reply.rejected(error),
    );
  }

  // ---- streams ----

  get sendStack(): boolean {
    return this.endpoint.core.options.sendStack;
  }

  get payload(): number {
    return this.endpoint.core.options.payload;
  }

  get compressThreshold(): number {
    return this.endpoint.core.options.compressThreshold;
  }

  /** Writes a frame of a streamed call; false when the transport is over its high-water mark. */
  writeFrame(frame: Buffer): boolean {
    if (!this.channel.isOpen) return false;
    try {
      return this.channel.write(frame);
    } catch {
      return false; // closed meanwhile: onClose stops the stream
    }
  }

  waitDrain(stream: ProviderStream): void {
    this.drainWaiters.push(stream);
  }

  onDrain(): void {
    const waiters = this.drainWaiters;
    if (waiters.length === 0) return;
    this.drainWaiters = [];
    for (const stream of waiters) stream.drained();
  }

  /** @internal The method answered with a stream: the stream-start response, then its items. */
  startStream(reply: Reply, value: AsyncIterable<unknown>, attachments: Record<string, string> | undefined): void {
    const { id, inv } = reply;
    const core = this.endpoint.core;
    let st = reply.stream;
    let refusal = inv.cancelled;
    if (refusal === undefined && !this.channel.isOpen) refusal = connectionLost(this.channel.remoteAddress, 'closed before the stream started');
    if (refusal === undefined && st === undefined && this.streams.size >= core.options.maxStreams) {
      refusal = rpcError(ProtocolErrors.TOO_MANY_STREAMS, RpcCode.LIMIT_EXCEEDED, `${inv.serviceKey}.${inv.method}`, this.channel.remoteAddress, core.options.maxStreams);
    }
    if (refusal !== undefined) {
      // Never started: the source is closed so whatever it holds is released.
      void openProviderStream(inv, value).return();
      reply.rejected(refusal);
      return;
    }
    if (st === undefined) {
      st = new ProviderStream(id, this, reply.serializer, reply.compressor);
      st.invocation = inv;
      this.streams.set(id, st);
    }
    this.write(encodeStreamStart(id, reply.serializer.id, attachments, st.inbound !== undefined ? st.inboundWindow : 0));
    st.startAnswer(value, reply.window, reply.batch);
  }

  /** @internal A streamed answer is over (ended, failed, stopped): the call is done. */
  streamDone(st: ProviderStream): void {
    if (this.streams.get(st.id) === st) this.streams.delete(st.id);
    if (this.running.get(st.id) === st.invocation) this.running.delete(st.id);
    this.endpoint.core.requestFinished();
  }

  /** @internal A call with a client stream answered with one value (or failed): its stream is over. */
  forgetStream(st: ProviderStream): void {
    st.close();
    if (this.streams.get(st.id) === st) this.streams.delete(st.id);
  }

  /** @internal The connection closed: every stream stops writing, pumps return their sources. */
  closeStreams(): void {
    this.drainWaiters = [];
    if (this.streams.size === 0) return;
    const streams = this.streams.values();
    this.streams.clear();
    for (const st of streams) st.close();
  }

  /** A stream frame from the consumer: an item, the end or failure of its client stream, credit. */
  private onStreamEvent(d: FrameDecoder, buf: Buffer, off: number): void {
    const st = this.streams.get(d.id);
    if (st === undefined || st.closed) return; // unknown or finished: dropped
    const start = off + FIXED_LENGTH + d.headerLength;
    switch (d.event) {
      case EventKind.STREAM_DATA:
        this.onItem(st, d, buf, off);
        return;
      case EventKind.STREAM_END:
        st.inbound?.end();
        return;
      case EventKind.STREAM_ERROR:
        st.inbound?.error(this.streamError(d, buf, off, st));
        return;
      case EventKind.STREAM_CREDIT: {
        const n = readVarintIn(buf, start, start + d.bodyLength);
        if (n > 0) st.credited(n);
        return;
      }
    }
  }

  /**
   * One `STREAM_DATA` frame of a client stream: its item (or, with the `BATCH` flag, its items)
   * decoded and queued for the method, within the window.
   */
  private onItem(st: ProviderStream, d: FrameDecoder, buf: Buffer, off: number): void {
    const inbound = st.inbound;
    if (inbound === undefined || inbound.closed) return;
    const inv = st.invocation;
    const core = this.endpoint.core;
    const hStart = off + FIXED_LENGTH;
    const bStart = hStart + d.headerLength;
    const bEnd = bStart + d.bodyLength;
    const size = frameSize(d.headerLength, d.bodyLength);
    try {
      let compressorId = 0;
      if (d.headerLength > 0) {
        if (!this.header.read(buf, hStart, bStart)) throw rpcError(ProtocolErrors.BAD_HEADER, RpcCode.BAD_REQUEST, 'stream item');
        compressorId = this.header.compressorId;
      }
      if ((d.flags & Flag.BATCH) === 0) {
        inbound.push(this.decodeItem(st, buf, bStart, bEnd, compressorId), size);
      } else {
        // A batch is never compressed; its frame's bytes are shared out among its items.
        const items = compressorId === 0 ? this.decodeItem(st, buf, bStart, bEnd, 0) : undefined;
        if (!Array.isArray(items) || items.length === 0) throw batchError(`the stream argument of ${inv.serviceKey}.${inv.method}`, RpcCode.SERIALIZATION);
        pushBatch(inbound, items, size);
      }
    } catch (err) {
      inv.cancel(RpcError.from(err, RpcCode.SERIALIZATION));
      return;
    }
    // Before the consumer could hear of this side's window it went by the default one.
    const grant = Math.max(inbound.window, DEFAULT_STREAM_WINDOW);
    if (ignoresCredit(inbound, size, grant)) {
      const err = overflowError(`the stream argument of ${inv.serviceKey}.${inv.method}`, this.channel.remoteAddress, inbound.buffered, grant);
      core.logger.warn(err.message, { code: err.reason, remote: this.channel.remoteAddress });
      inv.cancel(err);
    }
  }

  /** One item of a client stream, inflated (only with the compressor its call accepts) and decoded. */
  private decodeItem(st: ProviderStream, buf: Buffer, start: number, end: number, compressorId: number): unknown {
    let body: Uint8Array = buf.subarray(start, end);
    if (compressorId !== 0) {
      const compressor = st.compressor;
      if (compressor === undefined || compressor.id !== compressorId) {
        throw rpcError(ProtocolErrors.UNASKED_COMPRESSOR, RpcCode.SERIALIZATION, itemOf(st), compressorId);
      }
      body = compressor.decompress(body, this.endpoint.core.options.payload);
    }
    try {
      return st.serializer.deserialize(body);
    } catch (err) {
      // The message is made only for the failure: a stream decodes many items.
      throw rpcError(ProtocolErrors.DESERIALIZE, RpcCode.SERIALIZATION, itemOf(st), st.serializer.name, (err as Error).message);
    }
  }

  private streamError(d: FrameDecoder, buf: Buffer, off: number, st: ProviderStream): RpcError {
    const h = this.header;
    const hStart = off + FIXED_LENGTH;
    const bStart = hStart + d.headerLength;
    const code = codeOfStatus(d.status);
    if (!h.read(buf, hStart, bStart)) return rpcError(ProtocolErrors.BAD_HEADER, RpcCode.BAD_REQUEST, 'stream error');
    if (d.bodyLength > 0) {
      try {
        const wire = st.serializer.deserialize(buf.subarray(bStart, bStart + d.bodyLength));
        if (typeof wire === 'object' && wire !== null) {
          const w = wire as Record<string, unknown>;
          if (!isRpcCode(w.code)) w.code = code;
          return RpcError.fromWire(w, this.channel.remoteAddress);
        }
      } catch {
        // unreadable: the status still says what kind of failure it was
      }
    }
    return new RpcError(h.errorMessage ?? `the consumer's stream argument of ${st.invocation.method} failed with ${code}`, code, {
      reason: h.errorReason,
      remote: this.channel.remoteAddress,
    });
  }

  /** @internal The end of one call: forget it, answer it (two-way, connection open), count it done. */
  finish(id: number, inv: Invocation, oneWay: boolean, serializer: Serializer, compressor: Compressor | undefined, result: Result | undefined, error: unknown, failed: boolean): void {
    if (!oneWay) this.running.delete(id);
    try {
      if (!oneWay && this.channel.isOpen) {
        if (failed) this.write(this.encodeError(id, RpcError.from(error, RpcCode.SERVER_ERROR), serializer));
        else this.writeValue(id, inv, result, serializer, compressor);
      }
    } finally {
      this.endpoint.core.requestFinished();
    }
  }

  /**
   * Writes the OK response of `result`: encoded in place in the channel's outgoing bytes when the
   * transport can reserve them (the serializer's scratch copied straight into the frame), else as
   * a frame of its own. A value that cannot be encoded or is too large is answered with the error.
   */
  private writeValue(id: number, inv: Invocation, result: Result | undefined, serializer: Serializer, compressor: Compressor | undefined): void {
    const core = this.endpoint.core;
    const value = result?.value;
    const compress = compressor !== undefined && compressor.id !== 0;
    let body: Uint8Array = EMPTY;
    let bodyStart = 0;
    let bodyEnd = 0;
    if (value !== undefined) {
      try {
        const range = serializeBody(serializer, value, compress);
        body = range.bytes;
        bodyStart = range.start;
        bodyEnd = range.end;
      } catch (err) {
        const e = ProtocolErrors.SERIALIZE(`the result of ${inv.serviceKey}.${inv.method}`, serializer.name, (err as Error).message);
        this.write(encodeErrorResponse(id, Status.SERIALIZATION_ERROR, e.message, e.code));
        return;
      }
    }
    let compressorId = 0;
    if (compress && bodyEnd > 0 && bodyEnd >= core.options.compressThreshold) {
      try {
        body = compressor.compress(body);
        bodyEnd = body.length;
        compressorId = compressor.id;
      } catch (err) {
        const e = ProtocolErrors.SERIALIZE(`the result of ${inv.serviceKey}.${inv.method}`, compressor.name, (err as Error).message);
        this.write(encodeErrorResponse(id, Status.SERIALIZATION_ERROR, e.message, e.code));
        return;
      }
    }
    const attachments = result?.attachments;
    const headerLength = responseHeaderSize(compressorId, attachments);
    const bodyLength = bodyEnd - bodyStart;
    if (headerLength + bodyLength > core.options.payload) {
      const e = ProtocolErrors.PAYLOAD_TOO_LARGE(`the response of ${inv.serviceKey}.${inv.method}`, headerLength + bodyLength, core.options.payload);
      this.write(encodeErrorResponse(id, Status.PAYLOAD_TOO_LARGE, e.message, e.code));
      return;
    }
    const length = FIXED_LENGTH + headerLength + bodyLength;
    const ch = this.channel;
    if (ch.reserve !== undefined) {
      let slot: WriteSlot;
      try {
        slot = ch.reserve(length);
      } catch {
        return; // closed meanwhile; nobody is left to answer
      }
      writeResponse(slot.buffer, slot.offset, id, Status.OK, serializer.id, compressorId, attachments, body, bodyStart, bodyEnd, headerLength);
      return;
    }
    const frame = Buffer.allocUnsafe(length);
    writeResponse(frame, 0, id, Status.OK, serializer.id, compressorId, attachments, body, bodyStart, bodyEnd, headerLength);
    this.write(frame);
  }

  private encodeError(id: number, err: RpcError, serializer: Serializer): Buffer {
    const status = statusOfCode(err.code);
    const core = this.endpoint.core;
    try {
      const body = serializer.serialize(err.toWire(core.options.sendStack));
      const headerLength = responseHeaderSize(0, undefined);
      if (headerLength + body.length <= core.options.payload) {
        return encodeResponse(id, status, serializer.id, 0, undefined, body, headerLength);
      }
    } catch {
      // `data` the serializer cannot encode: the message still gets through below
    }
    return encodeErrorResponse(id, status, err.message, err.reason);
  }

  private fail(id: number, oneWay: boolean, status: Status, err: { message: string; code: string }): void {
    this.failWith(id, oneWay, status, err.message, err.code);
  }

  private failWith(id: number, oneWay: boolean, status: number, message: string, reason: string | undefined): void {
    if (!oneWay) this.write(encodeErrorResponse(id, status, message, reason));
  }

  private write(frame: Buffer): void {
    if (!this.channel.isOpen) return;
    try {
      this.channel.write(frame);
    } catch {
      // closed meanwhile; nobody is left to answer
    }
  }
}

function itemOf(st: ProviderStream): string {
  return `an item of the stream argument of ${st.invocation.serviceKey}.${st.invocation.method}`;
}

/** `maxAttachments` from the protocol options when they carry it (feature-checked), else 256. */
function maxAttachmentsOf(options: object): number {
  const v = (options as { maxAttachments?: unknown }).maxAttachments;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : DEFAULT_MAX_ATTACHMENTS;
}

function headerLimitError(h: HeaderReader): { message: string; code: string } {
  return h.overflow === 'attachments' ? GuardErrors.HEADER_LIMIT('attachments', h.maxAttachments) : GuardErrors.HEADER_LIMIT('header entries besides attachments', 64);
}

/** The kernel's own METHOD_NOT_FOUND wording and reason, answered before the body is decoded. */
function methodNotFound(service: ServiceInvoker, method: string | number): { message: string; code: string } {
  return {
    message: `Service ${service.serviceKey} has no method ${typeof method === 'number' ? `at index ${method}` : `"${method}"`}. Declared: ${service.methods.join(', ')}.`,
    code: 'PLEXUS_ERR_SERVICE_METHOD_NOT_FOUND',
  };
}

/** What one running call needs to be answered; its two handlers are the outcome's callbacks. */
class Reply implements CallReply {
  constructor(
    private readonly conn: ProviderConnection,
    readonly id: number,
    readonly inv: Invocation,
    private readonly oneWay: boolean,
    readonly serializer: Serializer,
    readonly compressor: Compressor | undefined,
    /** The call's client stream, if it has one. */
    readonly stream: ProviderStream | undefined,
    /** The window the consumer grants for a streamed answer. */
    readonly window: number,
    /** The consumer reads a streamed answer's items batched (its request had the BATCH flag). */
    readonly batch: boolean,
  ) {}

  resolved(result: Result): void {
    const value = result.value;
    if (!this.oneWay && isAsyncIterable(value)) {
      this.conn.startStream(this, value, result.attachments);
      return;
    }
    if (this.stream !== undefined) this.conn.forgetStream(this.stream);
    this.conn.finish(this.id, this.inv, this.oneWay, this.serializer, this.compressor, result, undefined, false);
  }

  rejected(error: unknown): void {
    if (this.stream !== undefined) this.conn.forgetStream(this.stream);
    this.conn.finish(this.id, this.inv, this.oneWay, this.serializer, this.compressor, undefined, error, true);
  }
}

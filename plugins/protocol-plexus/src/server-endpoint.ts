import {
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
} from '@plexus/kernel/spi';
import { cancelledByConsumer, connectionLost, ProtocolErrors } from './errors';
import { DEFAULT_MAX_ATTACHMENTS, encodeErrorResponse, encodeEvent, encodeResponse, HeaderReader, responseHeaderSize } from './frame-codec';
import { acceptsCompressor, configuredCompressors, GuardErrors, hasMethod } from './request-guard';
import { describeBytes, FrameDecoder, type FrameSink, type GarbageKind } from './frame-decoder';
import { PendingTable } from './pending-table';
import type { ProtocolCore } from './protocol-core';
import { EventKind, FIXED_LENGTH, Flag, Status, statusOfCode } from './wire';

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

  onClose(channel: Channel, error?: Error): void {
    const conn = channel.state as ProviderConnection | undefined;
    if (!(conn instanceof ProviderConnection)) return;
    conn.decoder.destroy();
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
export class ProviderConnection implements FrameSink {
  readonly decoder: FrameDecoder;
  /**
   * Two-way calls running now, by request id, so a cancel frame or a dropped connection stops them
   * (not a `Map`: see {@link PendingTable}; its hash is seeded, as the ids are the peer's).
   */
  readonly running = new PendingTable<Invocation>();
  private readonly header = new HeaderReader();

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
      } else if (d.event === EventKind.CANCEL) {
        this.running.get(d.id)?.cancel(cancelledByConsumer(this.channel.remoteAddress));
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
    const serializer = core.codecs.serializerById(h.serializerId);
    if (serializer === undefined) {
      this.fail(id, oneWay, Status.SERIALIZATION_ERROR, ProtocolErrors.UNKNOWN_SERIALIZER(h.serializerId, 'provider'));
      return;
    }
    let body: Uint8Array = buf.subarray(bStart, bEnd);
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
        body = compressor.decompress(body, core.options.payload);
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
      args = body.length === 0 ? [] : serializer.deserialize(body);
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
    // The response goes out compressed only when the consumer said it can read that compressor.
    // Only with a compressor the service is configured with, so a caller cannot make the provider
    // spend gzip's CPU on every response; otherwise the response goes out plain (always readable).
    const responseCompressor =
      h.acceptCompressorId !== 0 && acceptsCompressor(service, h.acceptCompressorId, core.codecs, core.options)
        ? core.codecs.compressorById(h.acceptCompressorId)
        : undefined;
    core.requestStarted();
    this.run(service, inv, id, oneWay, serializer, responseCompressor);
  }

  onOversize(d: FrameDecoder): void {
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
  private run(service: ServiceInvoker, inv: Invocation, id: number, oneWay: boolean, serializer: Serializer, compressor: Compressor | undefined): void {
    if (!oneWay) this.running.set(id, inv);
    const reply = new Reply(this, id, inv, oneWay, serializer, compressor);
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
    running.then(reply.resolved, reply.rejected);
  }

  /** @internal The end of one call: forget it, answer it (two-way, connection open), count it done. */
  finish(id: number, inv: Invocation, oneWay: boolean, serializer: Serializer, compressor: Compressor | undefined, result: Result | undefined, error: unknown, failed: boolean): void {
    if (!oneWay) this.running.delete(id);
    try {
      if (!oneWay && this.channel.isOpen) {
        this.write(
          failed
            ? this.encodeError(id, RpcError.from(error, RpcCode.SERVER_ERROR), serializer)
            : this.encodeValue(id, inv, result, serializer, compressor),
        );
      }
    } finally {
      this.endpoint.core.requestFinished();
    }
  }

  private encodeValue(id: number, inv: Invocation, result: Result | undefined, serializer: Serializer, compressor: Compressor | undefined): Buffer {
    const core = this.endpoint.core;
    const value = result?.value;
    let body: Uint8Array = EMPTY;
    if (value !== undefined) {
      try {
        body = serializer.serialize(value);
      } catch (err) {
        const e = ProtocolErrors.SERIALIZE(`the result of ${inv.serviceKey}.${inv.method}`, serializer.name, (err as Error).message);
        return encodeErrorResponse(id, Status.SERIALIZATION_ERROR, e.message, e.code);
      }
    }
    let compressorId = 0;
    if (compressor !== undefined && compressor.id !== 0 && body.length > 0 && body.length >= core.options.compressThreshold) {
      try {
        body = compressor.compress(body);
        compressorId = compressor.id;
      } catch (err) {
        const e = ProtocolErrors.SERIALIZE(`the result of ${inv.serviceKey}.${inv.method}`, compressor.name, (err as Error).message);
        return encodeErrorResponse(id, Status.SERIALIZATION_ERROR, e.message, e.code);
      }
    }
    const attachments = result?.attachments;
    const headerLength = responseHeaderSize(compressorId, attachments);
    if (headerLength + body.length > core.options.payload) {
      const e = ProtocolErrors.PAYLOAD_TOO_LARGE(`the response of ${inv.serviceKey}.${inv.method}`, headerLength + body.length, core.options.payload);
      return encodeErrorResponse(id, Status.PAYLOAD_TOO_LARGE, e.message, e.code);
    }
    return encodeResponse(id, Status.OK, serializer.id, compressorId, attachments, body, headerLength);
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
    private readonly id: number,
    private readonly inv: Invocation,
    private readonly oneWay: boolean,
    private readonly serializer: Serializer,
    private readonly compressor: Compressor | undefined,
  ) {}

  readonly resolved = (result: Result): void => {
    this.conn.finish(this.id, this.inv, this.oneWay, this.serializer, this.compressor, result, undefined, false);
  };

  readonly rejected = (error: unknown): void => {
    this.conn.finish(this.id, this.inv, this.oneWay, this.serializer, this.compressor, undefined, error, true);
  };
}

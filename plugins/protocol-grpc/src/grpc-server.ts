import * as http2 from 'node:http2';
import * as zlib from 'node:zlib';
import {
  DEFAULT_STREAM_WINDOW,
  InboundStream,
  isAsyncIterable,
  openProviderStream,
  RpcCode,
  RpcError,
  serviceKey,
  StreamPump,
  type CallReply,
  type CancelListener,
  type InboundStreamHooks,
  type Invocation,
  type Result,
  type ServiceInvoker,
  type StreamSink,
} from '@plexus/kernel/spi';
import type { ProtoMethod } from '@plexus/serializer-protobuf';
import { GrpcErrors, rpcError } from './errors';
import type { GrpcCore } from './grpc-core';
import { keepAlive } from './keepalive';
import { MessageReader } from './message-reader';
import type { ServiceCodec } from './service-codec';
import { GrpcStatus, statusOfError } from './status';
import { ACCEPT_ENCODING, attachmentsOf, encodeMessage, frame, H, parseTimeout, subtypeOf } from './wire';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** One service as a grpc endpoint routes to it. @internal */
export interface ExportedService {
  readonly invoker: ServiceInvoker;
  readonly codec: ServiceCodec;
  readonly iface: string;
}

/**
 * One listening HTTP/2 (h2c) server and the services routed through it. Scope: per listen address,
 * shared by every service exported there. Each HTTP/2 stream is one call; the checks run in the
 * order that costs least — method, content type, path, service and method, headers — and only then
 * is the request read, bounded, and decoded.
 */
export class GrpcServer {
  /** By service key. */
  readonly services = new Map<string, ExportedService>();
  readonly server: http2.Http2Server;
  listening: Promise<number> | undefined;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private addressText = '(not listening)';

  constructor(private readonly core: GrpcCore) {
    const o = core.options;
    this.server = http2.createServer({
      settings: { maxConcurrentStreams: o.maxConcurrentStreams, maxHeaderListSize: o.maxHeaderListSize, enablePush: false },
      maxHeaderListPairs: 256,
      // A peer that resets streams as fast as it opens them is answered with ENHANCE_YOUR_CALM by nghttp2.
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
    });
    this.server.maxConnections = o.maxConnections;
    this.server.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.on('error', () => undefined); // the close that follows cleans up
      const remote = `${session.socket?.remoteAddress}:${session.socket?.remotePort}`;
      keepAlive(session, o.keepaliveTime, o.keepaliveTimeout, remote, core.logger);
    });
    this.server.on('stream', this.onStream);
  }

  get address(): string {
    return this.addressText;
  }

  /** Open connections (for tests and drain). */
  get connections(): number {
    return this.sessions.size;
  }

  listen(host: string | undefined, port: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        const bound = typeof a === 'object' && a !== null ? a.port : port;
        this.addressText = `${host?.includes(':') ? `[${host}]` : (host ?? '0.0.0.0')}:${bound}`;
        resolve(bound);
      });
    });
  }

  /** Tells every connection no new calls are taken (GOAWAY); calls in flight finish. */
  goaway(): void {
    for (const s of this.sessions) {
      try {
        if (!s.closed) s.close();
      } catch {
        // already closing
      }
    }
  }

  /** Closes the server and every connection (calls still running lose their answer). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sessions) s.destroy();
    });
  }

  private find(iface: string, version: string | undefined, group: string | undefined): ExportedService | undefined {
    const exact = this.services.get(serviceKey(iface, version, group));
    if (exact !== undefined || version !== undefined || group !== undefined) return exact;
    // A plain gRPC client names no version or group: the interface's only service answers.
    let only: ExportedService | undefined;
    for (const s of this.services.values()) {
      if (s.iface !== iface) continue;
      if (only !== undefined) return undefined;
      only = s;
    }
    return only;
  }

  private readonly onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    stream.on('error', () => undefined); // a reset or a lost connection; 'close' settles the call
    if (headers[':method'] !== 'POST') {
      respondHttp(stream, 405);
      return;
    }
    const type = headers['content-type'];
    const subtype = subtypeOf(type);
    if (subtype === undefined) {
      // Not gRPC at all: HTTP's own answer, as grpc-js gives, with the reason for a human reading it.
      respondHttp(stream, 415, GrpcErrors.CONTENT_TYPE(clip(String(type ?? '(none)'))).message);
      return;
    }
    const contentType = type!;
    const path = headers[':path'] ?? '';
    const slash = path.indexOf('/', 1);
    if (path.charCodeAt(0) !== 47 || slash < 0 || slash === path.length - 1 || path.indexOf('/', slash + 1) >= 0) {
      trailersOnly(stream, contentType, rpcError(GrpcErrors.UNKNOWN_SERVICE, RpcCode.SERVICE_NOT_FOUND, clip(path), this.address, this.known()), GrpcStatus.UNIMPLEMENTED);
      return;
    }
    const iface = path.slice(1, slash);
    const method = path.slice(slash + 1);
    if (this.core.draining) {
      trailersOnly(stream, contentType, rpcError(GrpcErrors.SHUTTING_DOWN, RpcCode.SHUTTING_DOWN, this.address));
      return;
    }
    const version = header(headers, H.VERSION);
    const group = header(headers, H.GROUP);
    const exported = this.find(iface, version, group);
    if (exported === undefined) {
      trailersOnly(stream, contentType, rpcError(GrpcErrors.UNKNOWN_SERVICE, RpcCode.SERVICE_NOT_FOUND, clip(serviceKey(iface, version, group)), this.address, this.known()));
      return;
    }
    const { invoker } = exported;
    let codec = exported.codec;
    let m: ProtoMethod | undefined;
    try {
      if (subtype === '' || subtype === 'proto') {
        if (codec.proto !== undefined) m = codec.protoMethod(method);
        // A bare application/grpc to a service with a named serializer: a grpc-js client with its own serialize functions.
        else if (subtype === 'proto' || codec.plainType === 'json') throw rpcError(GrpcErrors.NO_PROTO, RpcCode.BAD_REQUEST, iface);
      } else if (subtype === 'json') {
        codec = codec.json();
      } else if (subtype !== codec.plainType) {
        const spoken = codec.proto !== undefined ? 'proto, json' : codec.plainType === 'json' ? 'json' : `${codec.plainType}, json`;
        throw rpcError(GrpcErrors.ENCODING, RpcCode.BAD_REQUEST, `service ${iface} does not speak application/grpc+${subtype} (it speaks ${spoken})`);
      }
    } catch (err) {
      trailersOnly(stream, contentType, RpcError.from(err), GrpcStatus.UNIMPLEMENTED);
      return;
    }
    if (!invoker.methods.includes(method) && method !== '$echo') {
      const known = invoker.methods.filter((n) => codec.proto === undefined || codec.proto.find(n) !== undefined).join(', ') || '(none)';
      trailersOnly(stream, contentType, rpcError(GrpcErrors.UNKNOWN_METHOD, RpcCode.METHOD_NOT_FOUND, iface, clip(method), known));
      return;
    }
    // The argument that follows as a client stream: the .proto's `stream` request, or — between
    // Plexus peers without a .proto — the position named in plexus-stream-arg.
    let streamArg = m !== undefined ? (m.requestStream ? 0 : -1) : -1;
    const marked = m === undefined ? header(headers, H.PLEXUS_STREAM_ARG) : undefined;
    if (marked !== undefined) {
      if (!/^\d{1,3}$/.test(marked) || Number(marked) > 255) {
        trailersOnly(stream, contentType, rpcError(GrpcErrors.BAD_HEADER, RpcCode.BAD_REQUEST, H.PLEXUS_STREAM_ARG, `"${clip(marked)}" is not an argument position (0-255)`));
        return;
      }
      streamArg = Number(marked);
    }
    const encoding = header(headers, H.ENCODING);
    if (encoding !== undefined && encoding !== 'identity' && encoding !== 'gzip') {
      trailersOnly(stream, contentType, rpcError(GrpcErrors.ENCODING, RpcCode.BAD_REQUEST, `grpc-encoding "${clip(encoding)}" is not supported (${ACCEPT_ENCODING})`), GrpcStatus.UNIMPLEMENTED);
      return;
    }
    let timeout = 0;
    const t = header(headers, H.TIMEOUT);
    if (t !== undefined) {
      timeout = parseTimeout(t);
      if (timeout < 0) {
        trailersOnly(stream, contentType, rpcError(GrpcErrors.BAD_HEADER, RpcCode.BAD_REQUEST, H.TIMEOUT, `"${clip(t)}" is not a gRPC timeout`));
        return;
      }
    }
    const socket = stream.session?.socket;
    const remote = `${socket?.remoteAddress ?? '?'}:${socket?.remotePort ?? 0}`;
    new ServerCall(this.core, stream, exported, codec, m, method, contentType, encoding === 'gzip', header(headers, H.PLEXUS_ARGS) === 'array', attachmentsOf(headers), timeout, remote, streamArg).start();
  };

  private known(): string {
    return clip([...this.services.keys()].join(', ') || '(none)', 2000);
  }
}

/**
 * One call from its request to its trailers, in any of gRPC's four kinds. The request is a message
 * sequence (MessageReader): a unary request is read whole and bounded before the call runs; a
 * client stream runs the call at once and feeds an InboundStream, pausing the HTTP/2 stream while
 * the provider has a window's worth unread, so HTTP/2 flow control stops the client. The answer is
 * one message or, when the implementation returned an AsyncIterable, a StreamPump writing each item
 * as it is produced and waiting for 'drain' when the client's window is full. Trailers end it once.
 */
class ServerCall implements CallReply, CancelListener {
  private readonly reader: MessageReader;
  private message: Buffer | undefined;
  private compressedMessage = false;
  private count = 0;
  /** The outcome is decided (trailers queued, or the stream reset): nothing more is sent or read. */
  private done = false;
  /** The client ended its side (END_STREAM). */
  private ended = false;
  private inv: Invocation | undefined;
  /** requestTimeout: the whole request of a unary-request call; the silence between messages of a client stream. */
  private timer: NodeJS.Timeout | undefined;
  /** writeTimeout of a streamed answer: armed while the client's window is full. */
  private writeTimer: NodeJS.Timeout | undefined;
  private inbound: InboundStream | undefined;
  /** The provider stopped reading the client stream: its later messages are dropped unread. */
  private discarding = false;
  private paused = false;
  private pump: StreamPump | undefined;
  private trailers: Record<string, string> | undefined;
  private okTrailers: Record<string, string> | undefined;

  constructor(
    private readonly core: GrpcCore,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly exported: ExportedService,
    private readonly codec: ServiceCodec,
    private readonly m: ProtoMethod | undefined,
    private readonly method: string,
    private readonly contentType: string,
    private readonly gzip: boolean,
    private readonly argsArray: boolean,
    private readonly attachments: Record<string, string>,
    private readonly timeout: number,
    private readonly remote: string,
    /** Position of the argument that arrives as a client stream, or -1 (a unary request). */
    private readonly streamArg: number,
  ) {
    this.reader = new MessageReader(core.options.maxMessageSize, this.onMessage);
  }

  private get call(): string {
    return `${this.exported.iface}/${this.method}`;
  }

  start(): void {
    const stream = this.stream;
    this.core.requestStarted();
    this.armRequestTimer();
    stream.on('data', (chunk: Buffer) => {
      if (this.done) return;
      const problem = this.reader.push(chunk);
      if (problem === undefined) {
        if (this.streamArg < 0 && this.count > 1) this.fail(rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, 'a unary call carries one message, this one more'), true);
        return;
      }
      this.fail(
        problem.kind === 'too-large'
          ? rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the request of ${this.call}`, String(problem.declared), this.core.options.maxMessageSize)
          : rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, `compressed flag ${problem.flag} (only 0 and 1 exist)`),
        true,
      );
    });
    stream.on('end', () => {
      this.ended = true;
      this.clearRequestTimer();
      // A reset ends the readable side too: that is a cancel ('close' follows), never the end of a
      // request or of a client stream.
      if (this.done || stream.aborted) return;
      if (this.streamArg < 0) this.run();
      else if (this.inbound === undefined) this.fail(rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, 'the stream ended before the argument list that precedes its client stream'));
      else if (!this.reader.atBoundary) this.fail(rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, 'the client stream ended inside a message'), true);
      else this.inbound.end();
    });
    stream.on('close', () => {
      this.clearRequestTimer();
      this.clearWriteTimer();
      if (!this.done) {
        this.done = true;
        this.pump?.stop();
        // The client cancelled (RST_STREAM) or the connection dropped: the implementation's signal
        // aborts, a streaming method's generator runs its finally.
        this.inv?.cancel(new RpcError(`the client ${this.remote} cancelled ${this.call} or its connection closed`, RpcCode.CANCELLED));
      }
      this.core.requestFinished();
    });
    // A .proto client stream is the only argument: the call runs now, its items arrive as they come.
    if (this.streamArg >= 0 && this.m !== undefined) this.run();
  }

  /** Each complete message: the unary request, the argument list before a client stream (json), or a stream item. */
  private readonly onMessage = (body: Buffer, compressed: boolean): void => {
    const count = ++this.count;
    if (this.streamArg < 0 || (this.m === undefined && count === 1)) {
      if (count === 1) {
        this.message = body;
        this.compressedMessage = compressed;
        if (this.streamArg >= 0) this.run();
      }
      return;
    }
    if (this.discarding || this.done) return;
    const inbound = this.inbound!;
    let item: unknown;
    try {
      item = this.codec.decodeRequestItem(this.m, compressed ? this.inflate(body) : body);
    } catch (err) {
      this.fail(RpcError.from(err, RpcCode.SERIALIZATION), true);
      return;
    }
    if (inbound.push(item, body.length + 5)) {
      this.armRequestTimer();
    } else if (!this.paused) {
      // The provider has a window's worth unread: stop reading, so HTTP/2 stops the client. The
      // client is not silent but held, so requestTimeout waits until reading resumes.
      this.paused = true;
      this.clearRequestTimer();
      this.stream.pause();
    }
  };

  /** What the provider's InboundStream tells this call (made for client streams only). */
  private inboundHooks(): InboundStreamHooks {
    return {
      credit: () => this.resumeReading(),
      stop: () => {
        // The method stopped reading (break) or the call ended: the rest of the client stream is
        // dropped as it arrives; the trailers that end the call reset the stream.
        this.discarding = true;
        this.resumeReading();
      },
    };
  }

  private resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.done || this.stream.closed) return;
    this.stream.resume();
    this.armRequestTimer();
  }

  /**
   * requestTimeout: a unary request must be complete within it; a client stream may last as long as
   * the call's deadline allows but may not fall silent (no message, no END_STREAM) for longer.
   */
  private armRequestTimer(): void {
    if (this.ended || this.done) return;
    if (this.timer !== undefined) {
      if (this.streamArg < 0) return;
      this.timer.refresh();
      return;
    }
    const limit = this.core.options.requestTimeout;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.ended || this.done) return;
      const err = GrpcErrors.REQUEST_TIMEOUT(this.remote, limit);
      this.core.logger.warn(err.message, { code: err.code, remote: this.remote, call: this.call });
      this.reset(rpcError(GrpcErrors.REQUEST_TIMEOUT, RpcCode.CANCELLED, this.remote, limit));
    }, limit);
  }

  private clearRequestTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    let args: unknown[];
    if (this.streamArg >= 0 && this.m !== undefined) {
      args = [undefined];
    } else {
      if (this.streamArg < 0 && (this.count !== 1 || !this.reader.atBoundary)) {
        this.fail(rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, this.count === 0 ? 'the stream ended without a message' : 'the stream ended inside a message'));
        return;
      }
      try {
        let body = this.message!;
        if (this.compressedMessage) body = this.inflate(body);
        args = this.codec.decodeRequest(this.m, body, this.argsArray || this.streamArg >= 0);
      } catch (err) {
        this.fail(RpcError.from(err, RpcCode.SERIALIZATION), true);
        return;
      }
      this.message = undefined;
    }
    if (this.streamArg >= 0) {
      if (this.streamArg >= args.length) {
        this.fail(rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, `plexus-stream-arg names argument ${this.streamArg} of ${args.length}`), true);
        return;
      }
      this.inbound = new InboundStream(this.inboundHooks(), DEFAULT_STREAM_WINDOW, 'provider');
      args[this.streamArg] = this.inbound;
    }
    const service = this.exported.invoker;
    let inv: Invocation;
    try {
      inv = service.createInvocation({ method: this.method, args, attachments: this.attachments, remoteAddress: this.remote, timeout: this.timeout });
    } catch (err) {
      this.fail(RpcError.from(err), true);
      return;
    }
    this.inv = inv;
    this.inbound?.follow(inv);
    if (service.dispatch !== undefined) service.dispatch(inv, this);
    else service.invoke(inv).then(this.resolved, this.rejected);
  }

  private inflate(body: Buffer): Buffer {
    if (!this.gzip) throw rpcError(GrpcErrors.ENCODING, RpcCode.BAD_REQUEST, 'a message is flagged compressed but grpc-encoding names no compression');
    try {
      return zlib.gunzipSync(body, { maxOutputLength: this.core.options.maxMessageSize });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || e.code === 'ERR_OUT_OF_RANGE') {
        throw rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the inflated request of ${this.call}`, 'more than the limit', this.core.options.maxMessageSize);
      }
      throw rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, `gzip: ${e.message}`);
    }
  }

  readonly resolved = (result: Result): void => {
    if (this.done) {
      // Too late (the client went away): a stream nobody reads is closed, so its finally runs.
      if (isAsyncIterable(result.value) && this.inv !== undefined) void openProviderStream(this.inv, result.value).return();
      return;
    }
    const value = result.value;
    const streams = isAsyncIterable(value);
    if (this.m !== undefined && streams !== this.m.responseStream) {
      if (streams && this.inv !== undefined) void openProviderStream(this.inv, value).return();
      const detail = streams
        ? 'the .proto declares one answer message, but the implementation returned an AsyncIterable'
        : 'the .proto declares a stream of answers (returns (stream ...)), but the implementation returned a single value; make it an async * method';
      this.fail(rpcError(GrpcErrors.STREAMING, RpcCode.SERVER_ERROR, this.call, detail));
      return;
    }
    this.okTrailers = okTrailers(result.attachments);
    if (streams) {
      this.streamAnswer(value);
      return;
    }
    let body: Uint8Array;
    try {
      body = this.codec.encodeResponse(this.m, value);
      if (body.length > this.core.options.maxMessageSize) {
        throw rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the answer of ${this.call}`, String(body.length), this.core.options.maxMessageSize);
      }
    } catch (err) {
      this.fail(RpcError.from(err, RpcCode.SERIALIZATION));
      return;
    }
    this.done = true;
    this.discarding = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    this.trailers = this.okTrailers;
    stream.respond({ ':status': 200, 'content-type': this.contentType, [H.ACCEPT_ENCODING]: ACCEPT_ENCODING }, { waitForTrailers: true });
    stream.once('wantTrailers', this.sendTrailers);
    this.watchWrite();
    stream.end(frame(body));
  };

  readonly rejected = (error: unknown): void => {
    this.fail(RpcError.from(error));
  };

  /** The implementation returned an AsyncIterable: headers now, then each item as it comes, then the status. */
  private streamAnswer(value: AsyncIterable<unknown>): void {
    const inv = this.inv!;
    const source = openProviderStream(inv, value);
    const stream = this.stream;
    if (stream.destroyed || stream.closed) {
      this.done = true;
      void source.return();
      return;
    }
    const headers: http2.OutgoingHttpHeaders = { ':status': 200, 'content-type': this.contentType, [H.ACCEPT_ENCODING]: ACCEPT_ENCODING };
    if (this.m === undefined) headers[H.PLEXUS_STREAM] = '1';
    stream.respond(headers, { waitForTrailers: true });
    stream.once('wantTrailers', this.sendTrailers);
    stream.on('drain', this.drained);
    // The stream's own deadline (held by the source) and a cancel end it with their status even
    // while the pump waits for the client's window.
    inv.addCancelListener(this);
    this.pump = new StreamPump(source, this.sink(), inv);
    void this.pump.start();
  }

  /** Where the pump writes a streamed answer's items (made for streamed answers only). */
  private sink(): StreamSink<unknown> {
    return {
      write: (item: unknown): boolean => {
        let body: Uint8Array;
        try {
          body = this.codec.encodeResponse(this.m, item);
        } catch (err) {
          throw RpcError.from(err, RpcCode.SERIALIZATION);
        }
        if (body.length > this.core.options.maxMessageSize) {
          throw rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `an item of the answer stream of ${this.call}`, String(body.length), this.core.options.maxMessageSize);
        }
        if (this.stream.write(frame(body))) return true;
        this.armWriteTimer();
        return false;
      },
      end: () => this.endStream(undefined),
      error: (err: RpcError) => this.endStream(err),
    };
  }

  private readonly drained = (): void => {
    this.clearWriteTimer();
    this.pump?.resume();
  };

  onCancel(reason: RpcError): void {
    this.pump?.stop();
    this.endStream(reason);
  }

  /** The streamed answer is over: the status goes in the trailers, after every item written. */
  private endStream(err: RpcError | undefined): void {
    if (this.done) return;
    this.done = true;
    this.discarding = true;
    this.reader.stop();
    this.inv?.removeCancelListener(this);
    // Trailers go after the last item, so what the generator set in responseAttachments while it ran goes too.
    this.trailers = err === undefined ? okTrailers({ ...this.okTrailers, ...this.inv?.responseAttachments }) : statusFields(err);
    const stream = this.stream;
    if (!stream.closed && !stream.destroyed) stream.end();
  }

  private readonly sendTrailers = (): void => {
    const stream = this.stream;
    try {
      stream.sendTrailers(this.trailers ?? { [H.STATUS]: '0' });
    } catch {
      return; // the stream closed meanwhile
    }
    // The client is still sending (a client stream the answer did not wait for): RST_STREAM(NO_ERROR)
    // after the status tells it to stop (RFC 9113 §8.1).
    if (!this.ended) stopReading(stream);
  };

  /** A failure: its status as trailers-only, or — once headers went out — as trailers after the items. */
  private fail(err: RpcError, cancel = false): void {
    if (this.done) return;
    if (cancel && (this.inbound !== undefined || this.pump !== undefined)) this.inv?.cancel(err);
    if (this.stream.headersSent) {
      this.pump?.stop();
      this.endStream(err);
      return;
    }
    this.done = true;
    this.reader.stop();
    trailersOnly(this.stream, this.contentType, err);
    // The client is still sending: RST_STREAM(NO_ERROR) after the status tells it to stop (RFC 9113
    // §8.1), and nothing more of it is read or held.
    if (!this.ended) stopReading(this.stream);
  }

  /** Ends the call without a status (a peer that broke a limit): RST_STREAM(CANCEL). */
  private reset(err: RpcError): void {
    if (this.done) return;
    this.done = true;
    this.reader.stop();
    this.pump?.stop();
    this.inv?.cancel(err);
    if (!this.stream.closed) this.stream.close(NGHTTP2_CANCEL);
  }

  /**
   * A streamed answer waits for the client's window; a client that never reads keeps it waiting.
   * Past `writeTimeout` without 'drain' the stream is reset and the generator stopped.
   */
  private armWriteTimer(): void {
    if (this.writeTimer !== undefined) return;
    const limit = this.core.options.writeTimeout;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = undefined;
      if (this.stream.closed || this.stream.destroyed) return;
      const err = GrpcErrors.WRITE_STALLED(this.remote, limit);
      this.core.logger.warn(err.message, { code: err.code, remote: this.remote, call: this.call });
      this.reset(rpcError(GrpcErrors.WRITE_STALLED, RpcCode.CANCELLED, this.remote, limit));
    }, limit);
    this.writeTimer.unref();
  }

  private clearWriteTimer(): void {
    if (this.writeTimer === undefined) return;
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
  }

  /**
   * The answer is handed to HTTP/2, which sends it as the client's window allows; a client that
   * never reads keeps it here. Past `writeTimeout` the stream is reset and the answer dropped.
   */
  private watchWrite(): void {
    const limit = this.core.options.writeTimeout;
    const stream = this.stream;
    const timer = setTimeout(() => {
      if (stream.closed || stream.destroyed) return;
      const err = GrpcErrors.WRITE_STALLED(this.remote, limit);
      this.core.logger.warn(err.message, { code: err.code, remote: this.remote });
      stream.close(NGHTTP2_CANCEL);
    }, limit);
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
  }
}

/**
 * RST_STREAM(NO_ERROR) once the status just submitted has been framed: nghttp2 drops a closed
 * stream's pending HEADERS, so a reset in the same turn would lose the trailers (grpc-js then
 * reports "Call ended without gRPC status"). Node frames the session's output in its own immediate,
 * which runs before this one.
 */
function stopReading(stream: http2.ServerHttp2Stream): void {
  setImmediate(() => {
    if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
  });
}

/** The trailers of a successful answer: status 0 and the result's attachments that are valid metadata. */
function okTrailers(extra: Record<string, string> | undefined): Record<string, string> {
  const trailers: Record<string, string> = { [H.STATUS]: '0' };
  if (extra !== undefined) for (const k in extra) if (isSafeMetadata(k, extra[k])) trailers[k] = extra[k];
  return trailers;
}

/** The status of an error as header fields: grpc-status, grpc-message, and the exact code for Plexus peers. */
function statusFields(err: RpcError, status?: GrpcStatus): Record<string, string> {
  const fields: Record<string, string> = {
    [H.STATUS]: String(status ?? statusOfError(err)),
    [H.MESSAGE]: encodeMessage(err.message.length > 4096 ? `${err.message.slice(0, 4096)}…` : err.message),
    [H.PLEXUS_CODE]: err.code,
  };
  if (err.reason) fields[H.PLEXUS_REASON] = err.reason;
  return fields;
}

/** A plain HTTP answer for a request that is not gRPC. */
function respondHttp(stream: http2.ServerHttp2Stream, status: number, message?: string): void {
  if (stream.headersSent || stream.destroyed) return;
  stream.respond(message === undefined ? { ':status': status } : { ':status': status, [H.MESSAGE]: encodeMessage(message) }, { endStream: true });
}

/** An error as gRPC's trailers-only answer: one HEADERS frame with the status, END_STREAM. */
function trailersOnly(stream: http2.ServerHttp2Stream, contentType: string, err: RpcError, status?: GrpcStatus): void {
  if (stream.headersSent || stream.destroyed || stream.closed) return;
  stream.respond({ ':status': 200, 'content-type': contentType, ...statusFields(err, status) }, { endStream: true });
}

const SAFE_KEY = /^[0-9a-z_.-]+$/;
const SAFE_TEXT = /^[\x20-\x7e]*$/;
function isSafeMetadata(key: string, value: unknown): value is string {
  return typeof value === 'string' && SAFE_KEY.test(key) && !key.startsWith('grpc-') && !key.startsWith(':') && SAFE_TEXT.test(value);
}

function header(headers: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

import * as http2 from 'node:http2';
import * as zlib from 'node:zlib';
import { RpcCode, RpcError, serviceKey, type CallReply, type Invocation, type Result, type ServiceInvoker } from '@plexus/kernel/spi';
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
    const { codec, invoker } = exported;
    let m: ProtoMethod | undefined;
    try {
      m = subtype === 'proto' ? codec.protoMethod(method) : undefined;
      if (subtype === 'proto' && codec.proto === undefined) throw rpcError(GrpcErrors.NO_PROTO, RpcCode.BAD_REQUEST, iface);
    } catch (err) {
      trailersOnly(stream, contentType, RpcError.from(err), GrpcStatus.UNIMPLEMENTED);
      return;
    }
    if (!invoker.methods.includes(method) && method !== '$echo') {
      const known = invoker.methods.filter((n) => codec.proto === undefined || codec.proto.find(n) !== undefined).join(', ') || '(none)';
      trailersOnly(stream, contentType, rpcError(GrpcErrors.UNKNOWN_METHOD, RpcCode.METHOD_NOT_FOUND, iface, clip(method), known));
      return;
    }
    if (m !== undefined && (m.requestStream || m.responseStream)) {
      trailersOnly(stream, contentType, rpcError(GrpcErrors.STREAMING, RpcCode.METHOD_NOT_FOUND, `${iface}/${method}`), GrpcStatus.UNIMPLEMENTED);
      return;
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
    new ServerCall(this.core, stream, exported, m, method, contentType, encoding === 'gzip', header(headers, H.PLEXUS_ARGS) === 'array', attachmentsOf(headers), timeout, remote).start();
  };

  private known(): string {
    return clip([...this.services.keys()].join(', ') || '(none)', 2000);
  }
}

/**
 * One unary call from its request to its trailers: reads the request bounded, decodes it, runs the
 * call and answers exactly once. The request side is a message sequence (MessageReader), so a
 * streaming call can take the same path later with a different count check.
 */
class ServerCall implements CallReply {
  private readonly reader: MessageReader;
  private message: Buffer | undefined;
  private compressedMessage = false;
  private count = 0;
  private done = false;
  private ended = false;
  private inv: Invocation | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly core: GrpcCore,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly exported: ExportedService,
    private readonly m: ProtoMethod | undefined,
    private readonly method: string,
    private readonly contentType: string,
    private readonly gzip: boolean,
    private readonly argsArray: boolean,
    private readonly attachments: Record<string, string>,
    private readonly timeout: number,
    private readonly remote: string,
  ) {
    this.reader = new MessageReader(core.options.maxMessageSize, (body, compressed) => {
      if (++this.count === 1) {
        this.message = body;
        this.compressedMessage = compressed;
      }
    });
  }

  private get call(): string {
    return `${this.exported.iface}/${this.method}`;
  }

  start(): void {
    const stream = this.stream;
    this.core.requestStarted();
    const limit = this.core.options.requestTimeout;
    this.timer = setTimeout(() => {
      if (this.ended) return;
      const err = GrpcErrors.REQUEST_TIMEOUT(this.remote, limit);
      this.core.logger.warn(err.message, { code: err.code, remote: this.remote });
      this.done = true;
      stream.close(NGHTTP2_CANCEL);
    }, limit);
    stream.on('data', (chunk: Buffer) => {
      if (this.done) return;
      const problem = this.reader.push(chunk);
      if (problem === undefined) {
        if (this.count > 1) this.fail(rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, 'a unary call carries one message, this one more'));
        return;
      }
      this.fail(
        problem.kind === 'too-large'
          ? rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the request of ${this.call}`, String(problem.declared), this.core.options.maxMessageSize)
          : rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, `compressed flag ${problem.flag} (only 0 and 1 exist)`),
      );
    });
    stream.on('end', () => {
      this.ended = true;
      clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.done) this.run();
    });
    stream.on('close', () => {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.done) {
        this.done = true;
        // The client cancelled (RST_STREAM) or the connection dropped: the implementation's signal aborts.
        this.inv?.cancel(new RpcError(`the client ${this.remote} cancelled ${this.call} or its connection closed`, RpcCode.CANCELLED));
      }
      this.core.requestFinished();
    });
  }

  private run(): void {
    if (this.count !== 1 || !this.reader.atBoundary) {
      this.fail(rpcError(GrpcErrors.BAD_MESSAGE, RpcCode.BAD_REQUEST, this.call, this.count === 0 ? 'the stream ended without a message' : 'the stream ended inside a message'));
      return;
    }
    let args: unknown[];
    try {
      let body = this.message!;
      if (this.compressedMessage) body = this.inflate(body);
      args = this.exported.codec.decodeRequest(this.m, body, this.argsArray);
    } catch (err) {
      this.fail(RpcError.from(err, RpcCode.SERIALIZATION));
      return;
    }
    this.message = undefined;
    const service = this.exported.invoker;
    let inv: Invocation;
    try {
      inv = service.createInvocation({ method: this.method, args, attachments: this.attachments, remoteAddress: this.remote, timeout: this.timeout });
    } catch (err) {
      this.fail(RpcError.from(err));
      return;
    }
    this.inv = inv;
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
    if (this.done) return;
    let body: Uint8Array;
    try {
      body = this.exported.codec.encodeResponse(this.m, result.value);
      if (body.length > this.core.options.maxMessageSize) {
        throw rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the answer of ${this.call}`, String(body.length), this.core.options.maxMessageSize);
      }
    } catch (err) {
      this.fail(RpcError.from(err, RpcCode.SERIALIZATION));
      return;
    }
    this.done = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const trailers: Record<string, string> = { [H.STATUS]: '0' };
    const extra = result.attachments;
    if (extra !== undefined) for (const k in extra) if (isSafeMetadata(k, extra[k])) trailers[k] = extra[k];
    stream.respond({ ':status': 200, 'content-type': this.contentType, [H.ACCEPT_ENCODING]: ACCEPT_ENCODING }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    this.watchWrite();
    stream.end(frame(body));
  };

  readonly rejected = (error: unknown): void => {
    this.fail(RpcError.from(error));
  };

  private fail(err: RpcError): void {
    if (this.done) return;
    this.done = true;
    this.reader.stop();
    trailersOnly(this.stream, this.contentType, err);
    // The client is still sending: RST_STREAM(NO_ERROR) after the status tells it to stop (RFC 9113
    // §8.1), and nothing more of it is read or held.
    if (!this.ended) this.stream.close(NGHTTP2_NO_ERROR);
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

/** A plain HTTP answer for a request that is not gRPC. */
function respondHttp(stream: http2.ServerHttp2Stream, status: number, message?: string): void {
  if (stream.headersSent || stream.destroyed) return;
  stream.respond(message === undefined ? { ':status': status } : { ':status': status, [H.MESSAGE]: encodeMessage(message) }, { endStream: true });
}

/** An error as gRPC's trailers-only answer: one HEADERS frame with the status, END_STREAM. */
function trailersOnly(stream: http2.ServerHttp2Stream, contentType: string, err: RpcError, status?: GrpcStatus): void {
  if (stream.headersSent || stream.destroyed || stream.closed) return;
  const headers: http2.OutgoingHttpHeaders = {
    ':status': 200,
    'content-type': contentType,
    [H.STATUS]: String(status ?? statusOfError(err)),
    [H.MESSAGE]: encodeMessage(err.message.length > 4096 ? `${err.message.slice(0, 4096)}…` : err.message),
    [H.PLEXUS_CODE]: err.code,
  };
  if (err.reason) headers[H.PLEXUS_REASON] = err.reason;
  stream.respond(headers, { endStream: true });
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

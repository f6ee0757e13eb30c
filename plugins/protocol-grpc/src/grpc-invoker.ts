import * as http2 from 'node:http2';
import * as zlib from 'node:zlib';
import {
  DEFAULT_STREAM_WINDOW,
  InboundStream,
  isAsyncIterable,
  isRpcCode,
  loopNow,
  RpcCode,
  RpcError,
  StreamPump,
  streamArgError,
  streamArgIndex,
  type CancelListener,
  type Invocation,
  type Invoker,
  type Result,
  type StreamSink,
  type URL,
} from '@plexus/kernel/spi';
import type { ProtoMethod } from '@plexus/serializer-protobuf';
import { GrpcErrors, rpcError } from './errors';
import type { GrpcCore } from './grpc-core';
import { keepAlive } from './keepalive';
import { MessageReader } from './message-reader';
import type { ServiceCodec } from './service-codec';
import { codeOfStatus, GrpcStatus } from './status';
import { ACCEPT_ENCODING, attachmentsOf, decodeMessage, formatTimeout, frame, GRPC_TYPE, H, putAttachments } from './wire';

const { NGHTTP2_CANCEL } = http2.constants;
/** How close to this side's deadline a peer's DEADLINE_EXCEEDED counts as this call's timeout (timers and rounding differ). */
const DEADLINE_SLACK_MS = 50;
const STATUS_NAMES = Object.fromEntries(Object.entries(GrpcStatus).map(([k, v]) => [v, k])) as Record<number, string>;

/**
 * The HTTP/2 connection to one provider address, shared by every reference to it (calls are
 * streams on it). Connects lazily; a connection that closes or receives GOAWAY is dropped, and
 * the next call opens a new one. @internal
 */
export class SessionHandle {
  refs = 0;
  private session: http2.ClientHttp2Session | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly address: string,
    private readonly core: GrpcCore,
  ) {}

  /** The live session, connecting when there is none. */
  get(): http2.ClientHttp2Session {
    const current = this.session;
    if (current !== undefined && !current.closed && !current.destroyed) return current;
    const o = this.core.options;
    const session = http2.connect(`http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`, {
      settings: { enablePush: false, maxHeaderListSize: o.maxHeaderListSize },
      maxHeaderListPairs: 256,
    });
    (session as { connectedOnce?: boolean }).connectedOnce = false;
    const timer = setTimeout(() => {
      session.destroy(Object.assign(new Error(`no connection within ${o.connectTimeout} ms`), { code: 'ETIMEDOUT' }));
    }, o.connectTimeout);
    // Connected once the server's SETTINGS arrived: a port that accepts TCP but does not speak
    // HTTP/2 (or a server that hangs) counts as unreachable after connectTimeout.
    session.once('remoteSettings', () => {
      clearTimeout(timer);
      (session as { connectedOnce?: boolean }).connectedOnce = true;
      keepAlive(session, o.keepaliveTime, o.keepaliveTimeout, this.address, this.core.logger);
    });
    session.on('error', () => undefined); // each stream reports it; the close below drops the session
    const forget = () => {
      clearTimeout(timer);
      if (this.session === session) this.session = undefined;
    };
    session.once('close', forget);
    session.once('goaway', forget);
    // An idle connection does not keep the process alive; calls in flight do (their streams ref it).
    session.unref();
    this.session = session;
    return session;
  }

  close(): void {
    const s = this.session;
    this.session = undefined;
    s?.close();
  }

  destroy(): void {
    const s = this.session;
    this.session = undefined;
    s?.destroy();
  }
}

/**
 * The consumer-side invoker of one grpc provider: each call is one HTTP/2 stream on the address's
 * shared connection — `POST /<package.Service>/<Method>`, the remaining budget in `grpc-timeout`,
 * attachments as metadata, one length-prefixed message each way, the status in the trailers. The
 * kernel's cancel (deadline, caller abort) resets the stream. Scope: per reference and provider;
 * safe for any number of concurrent calls.
 */
export class GrpcInvoker implements Invoker {
  private destroyed = false;

  constructor(
    readonly url: URL,
    private readonly core: GrpcCore,
    private readonly handle: SessionHandle,
    private readonly codec: () => ServiceCodec,
    private readonly release: (handle: SessionHandle) => void,
    private readonly cancelledAll: () => boolean,
  ) {}

  /** What the `.proto` says of `method`'s answer; undefined without a `.proto` or for a method it lacks. */
  streams(method: string): boolean | undefined {
    try {
      return this.codec().protoMethod(method)?.responseStream;
    } catch {
      return undefined;
    }
  }

  invoke(inv: Invocation): Promise<Result> {
    const address = this.handle.address;
    const call = `${inv.service}/${inv.method}`;
    if (this.destroyed || this.cancelledAll()) {
      return Promise.reject(new RpcError(GrpcErrors.CANCELLED(call, address).message, RpcCode.CANCELLED, { reason: GrpcErrors.CANCELLED.code, retryable: this.destroyed, remote: address }));
    }
    let m: ProtoMethod | undefined;
    let encoded: { body: Uint8Array; array: boolean } | undefined;
    const streamArg = streamArgIndex(inv.args);
    try {
      const codec = this.codec();
      m = codec.protoMethod(inv.method);
      if (streamArg >= 0) {
        for (let i = streamArg + 1; i < inv.args.length; i++) if (isAsyncIterable(inv.args[i])) throw streamArgError(inv);
        if (inv.settings.oneWay) throw rpcError(GrpcErrors.STREAMING, RpcCode.BAD_REQUEST, call, 'a one-way call cannot carry a stream argument');
      }
      if (m !== undefined && m.requestStream) {
        if (streamArg !== 0 || inv.args.length !== 1) {
          throw rpcError(GrpcErrors.STREAMING, RpcCode.BAD_REQUEST, call, `the .proto declares a client stream (stream ${m.request.name}): pass one AsyncIterable of request messages as the only argument`);
        }
      } else if (m !== undefined && streamArg >= 0) {
        throw rpcError(GrpcErrors.STREAMING, RpcCode.BAD_REQUEST, call, `the .proto declares one request message (${m.request.name}), but argument ${streamArg} is an AsyncIterable`);
      } else if (streamArg >= 0) {
        // Between Plexus peers without a .proto: the argument list first (the stream's place empty), then the items.
        const args = inv.args.slice();
        args[streamArg] = null;
        encoded = codec.encodeRequest(undefined, [args]);
        encoded = { body: encoded.body, array: true };
      } else {
        encoded = codec.encodeRequest(m, inv.args);
      }
    } catch (err) {
      return Promise.reject(this.failure(RpcError.from(err, RpcCode.SERIALIZATION)));
    }
    const limit = this.core.options.maxMessageSize;
    if (encoded !== undefined && encoded.body.length > limit) {
      return Promise.reject(this.failure(rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the request of ${call}`, String(encoded.body.length), limit)));
    }
    const headers: Record<string, string> = {
      ':method': 'POST',
      ':path': `/${inv.service}/${inv.method}`,
      'content-type': m !== undefined ? `${GRPC_TYPE}+proto` : `${GRPC_TYPE}+${this.codec().plainType}`,
      te: 'trailers',
      [H.ACCEPT_ENCODING]: ACCEPT_ENCODING,
      'user-agent': 'plexus-grpc/0.1',
    };
    if (inv.version) headers[H.VERSION] = inv.version;
    if (inv.group) headers[H.GROUP] = inv.group;
    if (encoded !== undefined && encoded.array) headers[H.PLEXUS_ARGS] = 'array';
    if (m === undefined && streamArg >= 0) headers[H.PLEXUS_STREAM_ARG] = String(streamArg);
    if (inv.deadline > 0) {
      const left = inv.deadline - loopNow();
      if (left <= 0) return Promise.reject(this.failure(new RpcError(`call ${call} to ${address}: its deadline passed before it was sent`, RpcCode.TIMEOUT)));
      headers[H.TIMEOUT] = formatTimeout(left);
    }
    const bad = putAttachments(inv.attachments, headers);
    if (bad !== undefined) return Promise.reject(this.failure(rpcError(GrpcErrors.BAD_HEADER, RpcCode.BAD_REQUEST, 'metadata', bad)));
    const source = streamArg >= 0 ? (inv.args[streamArg] as AsyncIterable<unknown>) : undefined;
    return new Promise<Result>((resolve, reject) => {
      new ClientCall(this, inv, call, m, resolve, reject).send(headers, encoded === undefined ? undefined : frame(encoded.body), source);
    });
  }

  isAvailable(): boolean {
    return !this.destroyed;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.release(this.handle);
  }

  /** @internal */
  get sessions(): SessionHandle {
    return this.handle;
  }

  /** @internal */
  get options(): GrpcCore['options'] {
    return this.core.options;
  }

  /** @internal */
  get serviceCodec(): ServiceCodec {
    return this.codec();
  }

  /** @internal An error that names this provider. */
  failure(err: RpcError): RpcError {
    err.remote = this.handle.address;
    return err;
  }
}

/**
 * One call on the wire, from the request to the end of its answer; the cancel listener of its
 * invocation until then. A client stream argument is pumped after the request headers (and the
 * argument list, without a .proto), waiting for 'drain' when the server's window is full. A
 * streamed answer resolves the call at its headers with an InboundStream, fed message by message;
 * the HTTP/2 stream is paused while the reader has a window's worth unread, so the server is held
 * by flow control. The reader's `break`, the deadline or an abort reset the stream (RST_STREAM CANCEL).
 */
class ClientCall implements CancelListener {
  private req: http2.ClientHttp2Stream | undefined;
  private settled = false;
  private reader: MessageReader | undefined;
  private message: Buffer | undefined;
  private compressed = false;
  private count = 0;
  private status: number | undefined;
  private statusMessage = '';
  private plexusCode: string | undefined;
  private plexusReason: string | undefined;
  private metadata: Record<string, string> | undefined;
  private encoding: string | undefined;
  private error: Error | undefined;
  /** The answer stream, once the server's headers said one follows. */
  private inbound: InboundStream | undefined;
  private paused = false;
  /** Sends the client stream argument. */
  private pump: StreamPump | undefined;
  /** Resets a call whose request is still open (a client stream) without ending it first. */
  private abort: AbortController | undefined;

  constructor(
    private readonly invoker: GrpcInvoker,
    private readonly inv: Invocation,
    private readonly call: string,
    private readonly m: ProtoMethod | undefined,
    private readonly resolve: (r: Result) => void,
    private readonly reject: (e: unknown) => void,
  ) {}

  send(headers: Record<string, string>, body: Buffer | undefined, source: AsyncIterable<unknown> | undefined): void {
    this.inv.addCancelListener(this);
    if (this.settled) return; // cancelled already
    const handle = this.invoker.sessions;
    let session: http2.ClientHttp2Session;
    let req: http2.ClientHttp2Stream;
    try {
      session = handle.get();
      // A call that streams its argument is cancelled through a signal: Node's close() would send
      // END_STREAM before the RST_STREAM, and the server would take the cut stream for a complete one.
      if (source !== undefined) this.abort = new AbortController();
      req = session.request(headers, { endStream: false, signal: this.abort?.signal });
    } catch (err) {
      this.fail(new RpcError(GrpcErrors.CONNECT(handle.address, (err as Error).message).message, RpcCode.NETWORK, { reason: GrpcErrors.CONNECT.code, retryable: true }));
      return;
    }
    this.req = req;
    const limit = this.invoker.options.maxMessageSize;
    this.reader = new MessageReader(limit, this.onMessage);
    req.on('response', (h) => {
      const status = h[':status'];
      if (status !== 200) {
        this.fail(rpcError(GrpcErrors.BAD_RESPONSE, status === 404 || status === 415 ? RpcCode.METHOD_NOT_FOUND : RpcCode.BAD_RESPONSE, this.call, handle.address, `HTTP status ${String(status)}, not a gRPC answer`));
        req.close(NGHTTP2_CANCEL);
        return;
      }
      const enc = h[H.ENCODING];
      this.encoding = Array.isArray(enc) ? enc[0] : enc;
      this.readStatus(h);
      this.metadata = attachmentsOf(h);
      // Headers without a status open the answer: a stream when the .proto (or, without one, the
      // provider's plexus-stream header) says so. Trailers-only answers settle at close.
      if (this.status === undefined && (this.m !== undefined ? this.m.responseStream : h[H.PLEXUS_STREAM] === '1')) this.openStream();
    });
    req.on('trailers', (t) => {
      this.readStatus(t);
      const more = attachmentsOf(t);
      this.metadata = this.metadata === undefined ? more : Object.assign(this.metadata, more);
    });
    req.on('data', (chunk: Buffer) => {
      if (this.settled && this.inbound === undefined) return;
      const problem = this.reader!.push(chunk);
      if (problem === undefined) return;
      this.fail(
        problem.kind === 'too-large'
          ? rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the answer to ${this.call}`, String(problem.declared), limit)
          : rpcError(GrpcErrors.BAD_RESPONSE, RpcCode.BAD_RESPONSE, this.call, handle.address, `compressed flag ${problem.flag}`),
      );
    });
    req.on('error', (err) => {
      this.error = err;
    });
    req.on('close', () => this.finish(session));
    if (source === undefined) {
      req.end(body);
      return;
    }
    if (body !== undefined) req.write(body);
    req.on('drain', () => this.pump?.resume());
    this.pump = new StreamPump(source, this.sink, this.inv);
    void this.pump.start();
  }

  /** Where the client stream argument's items go: one message each, as the server's window allows. */
  private readonly sink: StreamSink<unknown> = {
    write: (item: unknown): boolean => {
      let body: Uint8Array;
      try {
        body = this.invoker.serviceCodec.encodeRequestItem(this.m, item);
      } catch (err) {
        throw RpcError.from(err, RpcCode.SERIALIZATION);
      }
      const limit = this.invoker.options.maxMessageSize;
      if (body.length > limit) throw rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `an item of the request stream of ${this.call}`, String(body.length), limit);
      const req = this.req!;
      if (req.closed || req.destroyed) return false;
      return req.write(frame(body));
    },
    end: () => {
      const req = this.req!;
      if (!req.closed && !req.destroyed) req.end();
    },
    // A client stream that fails cannot send its error: the call fails here and the server's call is cancelled.
    error: (err: RpcError) => this.fail(err),
  };

  /** Each complete message of the answer: the one of a unary answer, or the next item of a stream. */
  private readonly onMessage = (msg: Buffer, compressed: boolean): void => {
    const inbound = this.inbound;
    if (inbound === undefined) {
      if (++this.count === 1) {
        this.message = msg;
        this.compressed = compressed;
      }
      return;
    }
    if (inbound.closed) return;
    let value: unknown;
    try {
      value = this.decode(msg, compressed);
    } catch (err) {
      this.fail(this.decodeError(err));
      return;
    }
    if (!inbound.push(value, msg.length + 5) && !this.paused) {
      this.paused = true;
      this.req?.pause();
    }
  };

  /** The server's headers announce a stream: the call resolves now, its items follow. */
  private openStream(): void {
    if (this.settled) return;
    this.settled = true;
    const inbound = new InboundStream(
      {
        credit: () => {
          if (!this.paused) return;
          this.paused = false;
          const req = this.req;
          if (req !== undefined && !req.closed) req.resume();
        },
        // The reader stopped (break), or the deadline or an abort ended the stream: the server is told.
        stop: () => this.abandon(),
      },
      DEFAULT_STREAM_WINDOW,
      'consumer',
    );
    this.inbound = inbound;
    inbound.follow(this.inv);
    const md = this.metadata;
    this.resolve(md !== undefined && Object.keys(md).length > 0 ? { value: inbound, attachments: md } : { value: inbound });
  }

  onCancel(reason: RpcError): void {
    this.inv.removeCancelListener(this);
    this.abandon();
    if (this.settled) return;
    this.settled = true;
    this.reject(reason);
  }

  /** Nothing more is wanted of this call: stop sending, and RST_STREAM(CANCEL) cancels the server's call. */
  private abandon(): void {
    this.pump?.stop();
    const req = this.req;
    if (req === undefined || req.closed) return;
    if (this.abort !== undefined && !req.writableEnded) this.abort.abort();
    else req.close(NGHTTP2_CANCEL);
  }

  private readStatus(h: http2.IncomingHttpHeaders): void {
    const s = h[H.STATUS];
    if (s === undefined) return;
    const text = Array.isArray(s) ? s[0] : s;
    this.status = /^\d{1,3}$/.test(text) ? Number(text) : GrpcStatus.UNKNOWN;
    const msg = h[H.MESSAGE];
    this.statusMessage = decodeMessage((Array.isArray(msg) ? msg[0] : msg) ?? '');
    const code = h[H.PLEXUS_CODE];
    this.plexusCode = Array.isArray(code) ? code[0] : code;
    const reason = h[H.PLEXUS_REASON];
    this.plexusReason = Array.isArray(reason) ? reason[0] : reason;
  }

  private decode(body: Buffer, compressed: boolean): unknown {
    if (compressed) {
      if (this.encoding !== 'gzip') throw new Error(`a message is flagged compressed with grpc-encoding ${this.encoding ?? '(none)'}`);
      body = zlib.gunzipSync(body, { maxOutputLength: this.invoker.options.maxMessageSize });
    }
    return this.invoker.serviceCodec.decodeResponse(this.m, body);
  }

  private decodeError(err: unknown): RpcError {
    const e = RpcError.from(err, RpcCode.BAD_RESPONSE);
    return e.code === RpcCode.SERIALIZATION ? e : rpcError(GrpcErrors.BAD_RESPONSE, RpcCode.BAD_RESPONSE, this.call, this.invoker.sessions.address, e.message);
  }

  /** The HTTP/2 stream closed: the call (or its answer stream) ends with what arrived. */
  private finish(session: http2.ClientHttp2Session): void {
    this.pump?.stop();
    this.inv.removeCancelListener(this);
    const inbound = this.inbound;
    if (inbound !== undefined) {
      if (inbound.closed) return;
      const err = this.outcome(session);
      if (err !== undefined) inbound.error(this.invoker.failure(err));
      else if (!this.reader!.atBoundary) inbound.error(this.invoker.failure(rpcError(GrpcErrors.BAD_RESPONSE, RpcCode.BAD_RESPONSE, this.call, this.invoker.sessions.address, 'the stream ended inside a message')));
      else inbound.end();
      return;
    }
    if (this.settled) return;
    const err = this.outcome(session);
    if (err !== undefined) {
      this.fail(err);
      return;
    }
    const address = this.invoker.sessions.address;
    if (this.m !== undefined && this.m.responseStream) {
      // A trailers-only OK: an empty stream.
      this.openStream();
      this.inbound!.end();
      return;
    }
    if (this.count !== 1 || !this.reader!.atBoundary) {
      this.fail(rpcError(GrpcErrors.BAD_RESPONSE, RpcCode.BAD_RESPONSE, this.call, address, `a unary answer carries one message, this one ${this.count}`));
      return;
    }
    let value: unknown;
    try {
      value = this.decode(this.message!, this.compressed);
    } catch (err) {
      this.fail(this.decodeError(err));
      return;
    }
    this.settled = true;
    const md = this.metadata;
    this.resolve(md !== undefined && Object.keys(md).length > 0 ? { value, attachments: md } : { value });
  }

  /** The error the end of the stream stands for (no status, or a non-OK one), or undefined for OK. */
  private outcome(session: http2.ClientHttp2Session): RpcError | undefined {
    const address = this.invoker.sessions.address;
    if (this.status === undefined) {
      const cause = this.error?.message ?? `the stream closed without a status (HTTP/2 code ${this.req?.rstCode ?? '?'})`;
      if ((session as { connectedOnce?: boolean }).connectedOnce !== true) {
        return new RpcError(GrpcErrors.CONNECT(address, cause).message, RpcCode.NETWORK, { reason: GrpcErrors.CONNECT.code, retryable: true });
      }
      return rpcError(GrpcErrors.DISCONNECTED, RpcCode.NETWORK, this.call, address, cause);
    }
    if (this.status !== GrpcStatus.OK) return this.remoteError(address);
    return undefined;
  }

  /** The error a non-OK status stands for: the exact code from a Plexus peer, the mapped one from others. */
  private remoteError(address: string): RpcError {
    const status = this.status!;
    const deadline = this.inv.deadline;
    if (status === GrpcStatus.DEADLINE_EXCEEDED && deadline > 0 && deadline - loopNow() <= DEADLINE_SLACK_MS) {
      // The server enforced the budget this side sent (grpc-timeout) a moment before the kernel's
      // own timer: it is this call's deadline that passed, so the caller sees the kernel's TIMEOUT.
      return new RpcError(`call ${this.call} to ${address} timed out: its deadline passed (the server answered DEADLINE_EXCEEDED)`, RpcCode.TIMEOUT, { remote: address, data: { grpcStatus: status } });
    }
    if (this.plexusCode !== undefined && isRpcCode(this.plexusCode)) {
      return new RpcError(this.statusMessage || `gRPC status ${status}`, this.plexusCode, { reason: this.plexusReason, remote: address, data: { grpcStatus: status } });
    }
    const name = STATUS_NAMES[status] ?? String(status);
    const code = codeOfStatus(status, this.statusMessage);
    if (code === RpcCode.SERVICE_ERROR) {
      // A business error of the server: its own message, as an implementation's throw arrives.
      return new RpcError(this.statusMessage || name, code, { reason: GrpcErrors.REMOTE.code, remote: address, data: { grpcStatus: status, code: status } });
    }
    return new RpcError(GrpcErrors.REMOTE(this.call, address, name, this.statusMessage || '(no message)').message, code, { reason: GrpcErrors.REMOTE.code, remote: address, data: { grpcStatus: status } });
  }

  private fail(err: RpcError): void {
    const inbound = this.inbound;
    if (inbound !== undefined) {
      // Mid-stream: the reader gets the error after the items it has, and the server is told to stop.
      if (!inbound.closed) inbound.error(this.invoker.failure(err));
      this.inv.removeCancelListener(this);
      this.abandon();
      return;
    }
    if (this.settled) return;
    this.settled = true;
    this.inv.removeCancelListener(this);
    this.abandon();
    this.reject(this.invoker.failure(err));
  }
}

import * as http2 from 'node:http2';
import * as zlib from 'node:zlib';
import { isRpcCode, loopNow, RpcCode, RpcError, type CancelListener, type Invocation, type Invoker, type Result, type URL } from '@plexus/kernel/spi';
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

  invoke(inv: Invocation): Promise<Result> {
    const address = this.handle.address;
    const call = `${inv.service}/${inv.method}`;
    if (this.destroyed || this.cancelledAll()) {
      return Promise.reject(new RpcError(GrpcErrors.CANCELLED(call, address).message, RpcCode.CANCELLED, { reason: GrpcErrors.CANCELLED.code, retryable: this.destroyed, remote: address }));
    }
    let m: ProtoMethod | undefined;
    let encoded: { body: Uint8Array; array: boolean };
    try {
      const codec = this.codec();
      m = codec.protoMethod(inv.method);
      if (m !== undefined && (m.requestStream || m.responseStream)) throw rpcError(GrpcErrors.STREAMING, RpcCode.METHOD_NOT_FOUND, call);
      encoded = codec.encodeRequest(m, inv.args);
    } catch (err) {
      return Promise.reject(this.failure(RpcError.from(err, RpcCode.SERIALIZATION)));
    }
    const limit = this.core.options.maxMessageSize;
    if (encoded.body.length > limit) {
      return Promise.reject(this.failure(rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the request of ${call}`, String(encoded.body.length), limit)));
    }
    const headers: Record<string, string> = {
      ':method': 'POST',
      ':path': `/${inv.service}/${inv.method}`,
      'content-type': m !== undefined ? `${GRPC_TYPE}+proto` : `${GRPC_TYPE}+json`,
      te: 'trailers',
      [H.ACCEPT_ENCODING]: ACCEPT_ENCODING,
      'user-agent': 'plexus-grpc/0.1',
    };
    if (inv.version) headers[H.VERSION] = inv.version;
    if (inv.group) headers[H.GROUP] = inv.group;
    if (encoded.array) headers[H.PLEXUS_ARGS] = 'array';
    if (inv.deadline > 0) {
      const left = inv.deadline - loopNow();
      if (left <= 0) return Promise.reject(this.failure(new RpcError(`call ${call} to ${address}: its deadline passed before it was sent`, RpcCode.TIMEOUT)));
      headers[H.TIMEOUT] = formatTimeout(left);
    }
    const bad = putAttachments(inv.attachments, headers);
    if (bad !== undefined) return Promise.reject(this.failure(rpcError(GrpcErrors.BAD_HEADER, RpcCode.BAD_REQUEST, 'metadata', bad)));
    return new Promise<Result>((resolve, reject) => {
      new ClientCall(this, inv, call, m, resolve, reject).send(headers, frame(encoded.body));
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

/** One call on the wire, from the request to the settled promise; the cancel listener of its invocation. */
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

  constructor(
    private readonly invoker: GrpcInvoker,
    private readonly inv: Invocation,
    private readonly call: string,
    private readonly m: ProtoMethod | undefined,
    private readonly resolve: (r: Result) => void,
    private readonly reject: (e: unknown) => void,
  ) {}

  send(headers: Record<string, string>, body: Buffer): void {
    this.inv.addCancelListener(this);
    if (this.settled) return; // cancelled already
    const handle = this.invoker.sessions;
    let session: http2.ClientHttp2Session;
    let req: http2.ClientHttp2Stream;
    try {
      session = handle.get();
      req = session.request(headers, { endStream: false });
    } catch (err) {
      this.fail(new RpcError(GrpcErrors.CONNECT(handle.address, (err as Error).message).message, RpcCode.NETWORK, { reason: GrpcErrors.CONNECT.code, retryable: true }));
      return;
    }
    this.req = req;
    const limit = this.invoker.options.maxMessageSize;
    this.reader = new MessageReader(limit, (msg, compressed) => {
      if (++this.count === 1) {
        this.message = msg;
        this.compressed = compressed;
      }
    });
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
    });
    req.on('trailers', (t) => {
      this.readStatus(t);
      const more = attachmentsOf(t);
      this.metadata = this.metadata === undefined ? more : Object.assign(this.metadata, more);
    });
    req.on('data', (chunk: Buffer) => {
      if (this.settled) return;
      const problem = this.reader!.push(chunk);
      if (problem === undefined) return;
      this.fail(
        problem.kind === 'too-large'
          ? rpcError(GrpcErrors.TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the answer to ${this.call}`, String(problem.declared), limit)
          : rpcError(GrpcErrors.BAD_RESPONSE, RpcCode.BAD_RESPONSE, this.call, handle.address, `compressed flag ${problem.flag}`),
      );
      req.close(NGHTTP2_CANCEL);
    });
    req.on('error', (err) => {
      this.error = err;
    });
    req.on('close', () => this.finish(session));
    req.end(body);
  }

  onCancel(reason: RpcError): void {
    if (this.settled) return;
    this.settled = true;
    this.inv.removeCancelListener(this);
    this.reject(reason);
    // RST_STREAM(CANCEL): the server's call is cancelled too (its signal aborts).
    if (this.req !== undefined && !this.req.closed) this.req.close(NGHTTP2_CANCEL);
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

  private finish(session: http2.ClientHttp2Session): void {
    if (this.settled) return;
    const address = this.invoker.sessions.address;
    if (this.status === undefined) {
      const cause = this.error?.message ?? `the stream closed without a status (HTTP/2 code ${this.req?.rstCode ?? '?'})`;
      if ((session as { connectedOnce?: boolean }).connectedOnce !== true) {
        this.fail(new RpcError(GrpcErrors.CONNECT(address, cause).message, RpcCode.NETWORK, { reason: GrpcErrors.CONNECT.code, retryable: true }));
      } else {
        this.fail(rpcError(GrpcErrors.DISCONNECTED, RpcCode.NETWORK, this.call, address, cause));
      }
      return;
    }
    if (this.status !== GrpcStatus.OK) {
      this.fail(this.remoteError(address));
      return;
    }
    if (this.count !== 1 || !this.reader!.atBoundary) {
      this.fail(rpcError(GrpcErrors.BAD_RESPONSE, RpcCode.BAD_RESPONSE, this.call, address, `a unary answer carries one message, this one ${this.count}`));
      return;
    }
    let value: unknown;
    try {
      let body = this.message!;
      if (this.compressed) {
        if (this.encoding !== 'gzip') throw new Error(`a message is flagged compressed with grpc-encoding ${this.encoding ?? '(none)'}`);
        body = zlib.gunzipSync(body, { maxOutputLength: this.invoker.options.maxMessageSize });
      }
      value = this.invoker.serviceCodec.decodeResponse(this.m, body);
    } catch (err) {
      const e = RpcError.from(err, RpcCode.BAD_RESPONSE);
      this.fail(e.code === RpcCode.SERIALIZATION ? e : rpcError(GrpcErrors.BAD_RESPONSE, RpcCode.BAD_RESPONSE, this.call, address, e.message));
      return;
    }
    this.settled = true;
    this.inv.removeCancelListener(this);
    const md = this.metadata;
    this.resolve(md !== undefined && Object.keys(md).length > 0 ? { value, attachments: md } : { value });
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
    if (this.settled) return;
    this.settled = true;
    this.inv.removeCancelListener(this);
    this.reject(this.invoker.failure(err));
  }
}

import * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { loopNow, RpcCode, RpcError, type CancelListener, type Invocation, type Invoker, type Result, type URL } from '@plexus/kernel/spi';
import { BodyReader } from './body-reader';
import { HttpErrors, rpcError } from './errors';
import type { HttpCore } from './http-core';
import { H, readHead } from './http-endpoint';
import { codeOfStatus } from './status';

/** A header name HTTP accepts (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_CACHED_PATHS = 1024;
/** Set on a socket of ours once it connected: a failure before that is a connect failure (the call never left). */
const CONNECTED = Symbol('plexus.http.connected');

/** The keep-alive agent of one provider address, shared by every reference to it. @internal */
function isEmpty(record: Record<string, string>): boolean {
  for (const _ in record) return false;
  return true;
}

export class AgentHandle {
  readonly agent: http.Agent;
  refs = 0;
  inflight = 0;
  private closeWhenIdle = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly address: string,
    core: HttpCore,
  ) {
    const o = core.options;
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: o.maxSockets,
      maxFreeSockets: o.maxSockets,
      // Idle sockets close a second before a server with Node's default keep-alive (5 s) would
      // close them, so a call rarely meets a socket the server is closing.
      timeout: Math.max(1000, o.keepAliveTimeout - 1000),
      scheduling: 'lifo',
    });
    // A connect timeout on new sockets only: nothing per call on a kept-alive one.
    const connectTimeout = o.connectTimeout;
    const create = this.agent.createConnection.bind(this.agent);
    this.agent.createConnection = ((options: net.NetConnectOpts, callback?: (err: Error | null, stream: Duplex) => void) => {
      const socket = create(options, callback) as net.Socket;
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no connection within ${connectTimeout} ms`), { code: 'ETIMEDOUT' })), connectTimeout);
      socket.once('connect', () => {
        clearTimeout(timer);
        (socket as net.Socket & { [CONNECTED]?: boolean })[CONNECTED] = true;
      });
      socket.once('close', () => clearTimeout(timer));
      return socket;
    }) as typeof this.agent.createConnection;
  }

  /** Closes the agent once no call is in flight (now when none is). */
  release(): void {
    this.closeWhenIdle = true;
    if (this.inflight === 0) this.agent.destroy();
  }

  finished(): void {
    if (--this.inflight === 0 && this.closeWhenIdle) this.agent.destroy();
  }
}

/**
 * The consumer-side invoker of one http provider: each call is one `POST /<interface>/<method>`
 * over the address's keep-alive agent, the remaining budget in `plexus-timeout`, attachments in
 * `plexus-attachment-*` headers. The kernel's cancel (deadline, caller abort) aborts the request.
 * Scope: per reference and provider; safe for any number of concurrent calls.
 */
export class HttpInvoker implements Invoker {
  private destroyed = false;
  private readonly paths = new Map<string, string>();

  constructor(
    readonly url: URL,
    private readonly core: HttpCore,
    private readonly handle: AgentHandle,
    private readonly release: (handle: AgentHandle) => void,
    private readonly cancelledAll: () => boolean,
  ) {}

  invoke(inv: Invocation): Promise<Result> {
    const address = this.handle.address;
    const call = `${inv.serviceKey}.${inv.method}`;
    if (this.destroyed || this.cancelledAll()) {
      const e = rpcError(HttpErrors.CANCELLED, RpcCode.CANCELLED, call, address);
      return Promise.reject(this.destroyed ? new RpcError(e.message, RpcCode.CANCELLED, { reason: e.reason, retryable: true, remote: address }) : e);
    }
    const o = this.core.options;
    let body: Uint8Array;
    try {
      body = this.core.json().serialize(inv.args);
    } catch (err) {
      return Promise.reject(RpcError.from(err, RpcCode.SERIALIZATION));
    }
    if (body.length > o.payload) {
      return Promise.reject(this.failure(rpcError(HttpErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the arguments of ${call}`, String(body.length), o.payload)));
    }
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': body.length };
    if (inv.version) headers[H.VERSION] = inv.version;
    if (inv.group) headers[H.GROUP] = inv.group;
    if (inv.deadline > 0) {
      const left = inv.deadline - loopNow();
      if (left <= 0) return Promise.reject(this.failure(new RpcError(`call ${call} to ${address}: its deadline passed before it was sent`, RpcCode.TIMEOUT)));
      headers[H.TIMEOUT] = String(Math.ceil(left));
    }
    const attachments = inv.attachments;
    for (const key in attachments) {
      const value = attachments[key];
      if (typeof value !== 'string') continue;
      if (!TOKEN.test(key)) {
        return Promise.reject(this.failure(rpcError(HttpErrors.BAD_HEADER, RpcCode.BAD_REQUEST, `${H.ATTACHMENT}${key}`, 'an attachment key must be an HTTP token (letters, digits, - _ . and the like)')));
      }
      try {
        headers[H.ATTACHMENT + key] = encodeURIComponent(value);
      } catch {
        // a lone UTF-16 surrogate has no UTF-8 form
        return Promise.reject(this.failure(rpcError(HttpErrors.BAD_HEADER, RpcCode.BAD_REQUEST, `${H.ATTACHMENT}${key}`, 'the value is not valid Unicode text')));
      }
    }
    return new Promise<Result>((resolve, reject) => {
      new HttpRequest(this, inv, call, this.path(inv.service, inv.method), headers, body, resolve, reject).send(true);
    });
  }

  /** False once released. */
  isAvailable(): boolean {
    return !this.destroyed;
  }

  /** Releases this reference's share of the agent; the last one closes it once idle. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.release(this.handle);
  }

  /** @internal */
  get agentHandle(): AgentHandle {
    return this.handle;
  }

  /** @internal */
  get options(): HttpCore['options'] {
    return this.core.options;
  }

  /** @internal */
  json(): ReturnType<HttpCore['json']> {
    return this.core.json();
  }

  /** @internal An error that names this provider. */
  failure(err: RpcError): RpcError {
    err.remote = this.handle.address;
    return err;
  }

  private path(service: string, method: string): string {
    const key = `${service}/${method}`;
    let p = this.paths.get(key);
    if (p === undefined) {
      p = `/${encodeURIComponent(service)}/${encodeURIComponent(method)}`;
      if (this.paths.size < MAX_CACHED_PATHS) this.paths.set(key, p);
    }
    return p;
  }
}

/** One call on the wire, from the request to the settled promise; the cancel listener of its invocation. */
class HttpRequest implements CancelListener {
  private req: http.ClientRequest | undefined = undefined;
  private settled = false;

  constructor(
    private readonly invoker: HttpInvoker,
    private readonly inv: Invocation,
    private readonly call: string,
    private readonly path: string,
    private readonly headers: http.OutgoingHttpHeaders,
    private readonly body: Uint8Array,
    private readonly resolve: (r: Result) => void,
    private readonly reject: (e: unknown) => void,
  ) {}

  send(mayRetry: boolean): void {
    const handle = this.invoker.agentHandle;
    if (mayRetry) {
      handle.inflight++;
      this.inv.addCancelListener(this);
      if (this.settled) return; // cancelled already
    }
    const req = http.request({ agent: handle.agent, host: handle.host, port: handle.port, method: 'POST', path: this.path, headers: this.headers });
    this.req = req;
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (this.settled) return;
      // A kept-alive socket the server closed as this call went out: once more on a fresh one.
      if (mayRetry && req.reusedSocket && err.code === 'ECONNRESET') {
        this.send(false);
        return;
      }
      const address = handle.address;
      // Connected once the request reached a socket that connected (a kept-alive one always did).
      const connected = req.reusedSocket || (req.socket as (net.Socket & { [CONNECTED]?: boolean }) | null)?.[CONNECTED] === true;
      this.fail(
        connected
          ? rpcError(HttpErrors.DISCONNECTED, RpcCode.NETWORK, this.call, address, err.message)
          : new RpcError(HttpErrors.CONNECT(address, err.message).message, RpcCode.NETWORK, { reason: HttpErrors.CONNECT.code, retryable: true }),
      );
    });
    req.on('response', (res) => this.onResponse(res));
    req.end(this.body);
  }

  onCancel(reason: RpcError): void {
    if (this.settled) return;
    this.settled = true;
    this.done();
    this.reject(reason);
    this.req?.destroy();
  }

  private onResponse(res: http.IncomingMessage): void {
    const limit = this.invoker.options.payload;
    const declared = res.headers['content-length'] === undefined ? -1 : Number(res.headers['content-length']);
    const address = this.invoker.agentHandle.address;
    if (declared > limit) {
      this.fail(rpcError(HttpErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the answer to ${this.call}`, String(declared), limit));
      res.destroy();
      return;
    }
    const reader = new BodyReader(limit, declared);
    res.on('data', (chunk: Buffer) => {
      if (this.settled) return;
      if (!reader.push(chunk)) {
        this.fail(rpcError(HttpErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the answer to ${this.call}`, `more than ${limit}`, limit));
        res.destroy();
      }
    });
    // The connection closed in the middle of the answer.
    res.on('error', (err: Error) => this.fail(rpcError(HttpErrors.DISCONNECTED, RpcCode.NETWORK, this.call, address, `the answer was cut short (${err.message})`)));
    res.on('end', () => {
      if (this.settled) return;
      const bytes = reader.bytes();
      const status = res.statusCode ?? 0;
      if (status === 200) {
        try {
          const value = bytes.length === 0 ? undefined : this.invoker.json().deserialize(bytes);
          // The provider's response attachments, bounded like a request's (beyond maxAttachments: none).
          const attachments = readHead(res.rawHeaders, this.invoker.options.maxAttachments).attachments;
          this.succeed(attachments === undefined || isEmpty(attachments) ? { value } : { value, attachments });
        } catch (err) {
          this.fail(rpcError(HttpErrors.BAD_RESPONSE, RpcCode.BAD_RESPONSE, this.call, address, RpcError.from(err).message));
        }
        return;
      }
      this.fail(this.errorOf(status, bytes, address));
    });
  }

  /** The error an answer other than 200 carries: the provider's coded body, or one made from the status. */
  private errorOf(status: number, bytes: Buffer, address: string): RpcError {
    let wire: unknown;
    try {
      wire = bytes.length > 0 ? this.invoker.json().deserialize(bytes) : undefined;
    } catch {
      wire = undefined;
    }
    if (typeof wire === 'object' && wire !== null && typeof (wire as { code?: unknown }).code === 'string') return RpcError.fromWire(wire, address);
    const text = bytes.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ');
    const def = HttpErrors.BAD_RESPONSE;
    return new RpcError(def(this.call, address, `HTTP ${status} ${http.STATUS_CODES[status] ?? ''} without a Plexus error body${text ? `: ${text}` : ''}`).message, codeOfStatus(status), {
      reason: def.code,
    });
  }

  private succeed(result: Result): void {
    if (this.settled) return;
    this.settled = true;
    this.done();
    this.resolve(result);
  }

  private fail(err: RpcError): void {
    if (this.settled) return;
    this.settled = true;
    this.done();
    this.reject(this.invoker.failure(err));
  }

  private done(): void {
    this.inv.removeCancelListener(this);
    this.invoker.agentHandle.finished();
  }
}

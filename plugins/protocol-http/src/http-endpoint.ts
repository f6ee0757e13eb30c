import * as http from 'node:http';
import type { Socket } from 'node:net';
import {
  isAsyncIterable,
  RpcCode,
  RpcError,
  serviceKey,
  type CallReply,
  type Invocation,
  type Result,
  type ServiceInvoker,
} from '@plexus/kernel/spi';
import { BodyReader } from './body-reader';
import { HttpErrors, rpcError } from './errors';
import { describeOffset, jsonErrorOffset } from './json-position';
import type { HttpCore } from './http-core';
import { statusOfCode } from './status';

/** Header names (lowercase, as Node gives them). */
export const H = {
  VERSION: 'plexus-version',
  GROUP: 'plexus-group',
  TIMEOUT: 'plexus-timeout',
  ATTACHMENT: 'plexus-attachment-',
} as const;

const ATTACHMENT_PREFIX_LENGTH = H.ATTACHMENT.length;
/** An HTTP token (RFC 9110): what a header name may be made of. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const JSON_TYPE = 'application/json';
/** Methods every service answers besides its table (the kernel's built-in liveness probe). */
const BUILT_IN_METHODS = ['$echo'];

/** A stalled-writer mark kept on a socket by the sweep. */
interface StallMark {
  at: number;
  length: number;
}
const STALL = Symbol('plexus.http.stall');
const GATE = Symbol('plexus.http.gate');

/**
 * Calls of one connection: HTTP/1.1 answers in order, and Node buffers in memory every answer
 * that waits behind an unfinished one. So a connection runs one call at a time; pipelined requests
 * wait (already parsed, small) until the answer before them left, and a client that pipelines
 * fifty calls for large answers and reads none costs one answer, not fifty.
 */
interface Gate {
  /** The call running now (until its answer is handed to the socket). */
  current: HttpCall | undefined;
  waiting: HttpCall[] | undefined;
}
const REMOTE = Symbol('plexus.http.remote');
type TrackedSocket = Socket & { [STALL]?: StallMark; [GATE]?: Gate; [REMOTE]?: string };

/** `host:port` of the peer, read from the socket once per connection (each read is a system call's worth). */
function remoteOf(socket: Socket): string {
  const s = socket as TrackedSocket;
  return (s[REMOTE] ??= `${socket.remoteAddress}:${socket.remotePort}`);
}

/**
 * One listening HTTP server and the services routed through it by service key. Scope: per listen
 * address; shared by every service exported there. Calls are `POST /<interface>/<method>` with a
 * JSON array of arguments; everything is checked in the order that costs least: path, service and
 * method, headers, declared length — and only then is the body read, bounded, and decoded.
 */
export class HttpEndpoint {
  readonly services = new Map<string, ServiceInvoker>();
  readonly server: http.Server;
  /** Settles when the server listens (rejects when it cannot). */
  listening: Promise<number> | undefined;
  private readonly sockets = new Set<TrackedSocket>();
  private sweep: NodeJS.Timeout | undefined;
  private addressText = '(not listening)';

  constructor(private readonly core: HttpCore) {
    const o = core.options;
    const requestTimeout = o.requestTimeout;
    this.server = http.createServer({
      maxHeaderSize: o.maxHeaderSize,
      keepAlive: true,
      requestTimeout,
      // Node requires headersTimeout ≤ requestTimeout.
      headersTimeout: Math.min(o.headersTimeout, requestTimeout),
      // Node checks both timeouts on this period (default 30 s); short timeouts need it shorter.
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(Math.min(o.headersTimeout, requestTimeout) / 4))),
    });
    this.server.keepAliveTimeout = o.keepAliveTimeout;
    this.server.maxConnections = o.maxConnections;
    this.server.on('request', this.onRequest);
    this.server.on('connection', (socket: TrackedSocket) => {
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        // Nobody is left to answer: the running call's signal aborts; the waiting ones never run.
        const gate = socket[GATE];
        if (gate === undefined) return;
        gate.waiting = undefined;
        gate.current?.connectionLost();
        gate.current = undefined;
      });
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // Node's own answers: 400 for a malformed request, 431 for an oversized head, 408 on timeouts.
      if (!socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    });
  }

  /** `host:port` the server is bound to. */
  get address(): string {
    return this.addressText;
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
        this.startSweep();
        resolve(bound);
      });
    });
  }

  /** Closes the server and every connection (calls still running lose their answer). */
  async close(): Promise<void> {
    if (this.sweep !== undefined) clearInterval(this.sweep);
    this.sweep = undefined;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Connections currently open (for tests and drain). */
  get connections(): number {
    return this.sockets.size;
  }

  /**
   * A client that never reads its response: Node stops parsing that connection's next requests
   * while a response is unsent, so the memory is bounded already; this takes the socket back
   * once nothing of the response moved for `writeTimeout`. One sweep per endpoint, nothing per call.
   */
  private startSweep(): void {
    const limit = this.core.options.writeTimeout;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const socket of this.sockets) {
        const pending = socket.writableLength;
        if (pending === 0) {
          socket[STALL] = undefined;
          continue;
        }
        const mark = socket[STALL];
        if (mark === undefined || pending < mark.length) {
          socket[STALL] = { at: now, length: pending };
        } else if (now - mark.at >= limit) {
          const remote = remoteOf(socket);
          const err = HttpErrors.WRITE_STALLED(remote, now - mark.at, pending);
          this.core.logger.warn(err.message, { code: err.code, remote });
          socket.destroy(err);
        }
      }
    }, Math.max(10, Math.floor(limit / 4)));
    this.sweep.unref();
  }

  private readonly onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const method = req.method;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    if (method === 'POST') {
      this.call(req, res, path);
      return;
    }
    if (path === '/' && (method === 'GET' || method === 'HEAD')) {
      this.list(res, method === 'HEAD');
      return;
    }
    const callLike = /^\/[^/]+\/[^/]+$/.test(path);
    if (callLike) {
      res.setHeader('allow', 'POST');
      this.fail(res, 405, rpcError(HttpErrors.METHOD_NOT_ALLOWED, RpcCode.BAD_REQUEST, method ?? '?', clip(path)));
    } else {
      this.fail(res, 404, rpcError(HttpErrors.ROUTE, RpcCode.BAD_REQUEST, method ?? '?', clip(path)));
    }
  };

  private list(res: http.ServerResponse, head: boolean): void {
    const services = [...this.services.values()].map((s) => {
      const params = s.url?.params ?? {};
      return { interface: s.url?.path ?? s.serviceKey, version: params.version ?? '', group: params.group ?? '', methods: [...s.methods, ...BUILT_IN_METHODS] };
    });
    const body = Buffer.from(JSON.stringify({ address: this.address, services }));
    res.writeHead(200, ['content-type', JSON_TYPE, 'content-length', String(body.length)]);
    res.end(head ? undefined : body);
  }

  private call(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    const core = this.core;
    const slash = path.indexOf('/', 1);
    if (slash < 0 || slash === path.length - 1 || path.indexOf('/', slash + 1) >= 0 || path.length < 4) {
      this.fail(res, 404, rpcError(HttpErrors.ROUTE, RpcCode.BAD_REQUEST, 'POST', clip(path)));
      return;
    }
    let iface: string;
    let methodName: string;
    try {
      iface = decodeURIComponent(path.slice(1, slash));
      methodName = decodeURIComponent(path.slice(slash + 1));
    } catch {
      this.fail(res, 404, rpcError(HttpErrors.ROUTE, RpcCode.BAD_REQUEST, 'POST', clip(path)));
      return;
    }
    if (core.draining) {
      this.fail(res, 503, rpcError(HttpErrors.SHUTTING_DOWN, RpcCode.SHUTTING_DOWN, this.address), true);
      return;
    }
    const head = readHead(req.rawHeaders, core.options.maxAttachments);
    const type = head.contentType;
    if (type !== undefined && !isJsonType(type)) {
      this.fail(res, 415, rpcError(HttpErrors.MEDIA_TYPE, RpcCode.BAD_REQUEST, clip(type)), true);
      return;
    }
    const key = serviceKey(iface, head.version, head.group);
    const service = this.services.get(key);
    if (service === undefined) {
      const known = [...this.services.keys()].join(', ') || '(none)';
      this.fail(res, 404, rpcError(HttpErrors.SERVICE_NOT_FOUND, RpcCode.SERVICE_NOT_FOUND, clip(key), this.address, clip(known, 2000)));
      return;
    }
    if (!hasMethod(service, methodName)) {
      this.fail(res, 404, methodNotFound(service, methodName));
      return;
    }
    let timeout = 0;
    const t = head.timeout;
    if (t !== undefined) {
      timeout = /^\d{1,10}$/.test(t) ? Number(t) : -1;
      if (timeout < 0) {
        this.fail(res, 400, rpcError(HttpErrors.BAD_HEADER, RpcCode.BAD_REQUEST, H.TIMEOUT, `"${clip(t)}" is not a whole number of milliseconds`));
        return;
      }
    }
    const attachments = head.attachments;
    if (attachments === undefined) {
      this.fail(res, 400, rpcError(HttpErrors.BAD_HEADER, RpcCode.BAD_REQUEST, `${H.ATTACHMENT}*`, `more than ${core.options.maxAttachments} attachments (maxAttachments)`), true);
      return;
    }
    const limit = core.options.payload;
    const declared = head.contentLength === undefined ? -1 : Number(head.contentLength);
    if (declared > limit) {
      // Refused before one byte of it is read; the connection closes rather than drain it.
      this.fail(res, 413, rpcError(HttpErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the body of ${key}.${methodName}`, String(declared), limit), true);
      return;
    }
    const call = new HttpCall(this, core, service, methodName, req, res, attachments, timeout, new BodyReader(limit, declared));
    req.on('data', call.onData);
    req.on('end', call.onEnd);
    req.on('error', call.onAbort);
  }

  /** @internal Answers an error: `{ code, reason, message }` with the status of its code unless given. */
  fail(res: http.ServerResponse, status: number | undefined, err: RpcError, close = false): void {
    if (res.headersSent || res.destroyed) return;
    const wire = err.toWire(this.core.options.sendStack);
    const { code, reason, message, ...rest } = wire;
    let text: string;
    try {
      text = JSON.stringify({ code, reason: reason ?? null, message, ...rest });
    } catch {
      // `data` JSON cannot hold (a bigint, a cycle): the code and message still get through
      text = JSON.stringify({ code, reason: reason ?? null, message });
    }
    const body = Buffer.from(text);
    const headers = ['content-type', JSON_TYPE, 'content-length', String(body.length)];
    if (close || this.core.draining) headers.push('connection', 'close');
    res.writeHead(status ?? statusOfCode(err.code), headers);
    res.end(body);
  }

  /** @internal Answers a result, with the provider's response attachments as `plexus-attachment-*` headers. */
  succeed(res: http.ServerResponse, body: Uint8Array, attachments?: Readonly<Record<string, string>>): void {
    if (res.destroyed) return;
    const headers = ['content-type', JSON_TYPE, 'content-length', String(body.length)];
    if (attachments !== undefined) {
      for (const key in attachments) {
        // A key HTTP cannot carry as a header name is left out rather than breaking the answer.
        if (HTTP_TOKEN.test(key)) headers.push(H.ATTACHMENT + key, encodeURIComponent(String(attachments[key])));
      }
    }
    if (this.core.draining) headers.push('connection', 'close');
    res.writeHead(200, headers);
    res.end(body);
  }
}

/**
 * One request from its body to its answer: reads the body bounded, decodes it, runs the call and
 * answers it, exactly once. Its handlers are arrow fields, bound once per call.
 */
class HttpCall implements CallReply {
  private inv: Invocation | undefined = undefined;
  private done = false;

  constructor(
    private readonly endpoint: HttpEndpoint,
    private readonly core: HttpCore,
    private readonly service: ServiceInvoker,
    private readonly method: string,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly attachments: Record<string, string>,
    private readonly timeout: number,
    private readonly body: BodyReader,
  ) {}

  readonly onData = (chunk: Buffer): void => {
    if (this.done) return;
    if (!this.body.push(chunk)) {
      this.done = true;
      const limit = this.core.options.payload;
      this.endpoint.fail(
        this.res,
        413,
        rpcError(HttpErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the body of ${this.service.serviceKey}.${this.method}`, `more than ${limit}`, limit),
        true,
      );
      // Stop reading: the socket closes once the answer is out.
      this.req.pause();
    }
  };

  readonly onAbort = (): void => {
    this.done = true;
  };

  readonly onEnd = (): void => {
    if (this.done) return;
    const what = `${this.service.serviceKey}.${this.method}`;
    const bytes = this.body.bytes();
    let args: unknown;
    if (bytes.length === 0) args = [];
    else {
      try {
        args = this.core.json().deserialize(bytes);
      } catch (err) {
        const e = RpcError.from(err);
        this.done = true;
        // A decode limit keeps its own reason; a syntax error says where (the parser's position).
        this.endpoint.fail(
          this.res,
          400,
          e.reason === 'PLEXUS_ERR_SERIALIZER_DECODE' ? rpcError(HttpErrors.BAD_JSON, RpcCode.BAD_REQUEST, what, whereJsonBreaks(bytes, e)) : e,
        );
        return;
      }
    }
    if (!Array.isArray(args)) {
      this.done = true;
      this.endpoint.fail(this.res, 400, rpcError(HttpErrors.BAD_BODY, RpcCode.BAD_REQUEST, what, describe(args)));
      return;
    }
    const socket = this.req.socket;
    let inv: Invocation;
    try {
      inv = this.service.createInvocation({
        method: this.method,
        args,
        attachments: this.attachments,
        remoteAddress: remoteOf(socket),
        timeout: this.timeout,
        // An HTTP client sends no cancel: the provider holds the call to the caller's budget itself.
        callerWatches: false,
      });
    } catch (err) {
      this.done = true;
      this.endpoint.fail(this.res, undefined, RpcError.from(err, RpcCode.BAD_REQUEST));
      return;
    }
    this.inv = inv;
    const gate = ((socket as TrackedSocket)[GATE] ??= { current: undefined, waiting: undefined });
    if (gate.current !== undefined) {
      (gate.waiting ??= []).push(this);
      return;
    }
    gate.current = this;
    this.start();
  };

  /** Runs the call (its connection's turn came). @internal */
  start(): void {
    const inv = this.inv!;
    this.core.requestStarted();
    const service = this.service;
    if (service.dispatch !== undefined) {
      service.dispatch(inv, this);
      return;
    }
    let running: Promise<Result>;
    try {
      running = service.invoke(inv);
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(this.resolved, this.rejected);
  }

  /** @internal The connection closed while the call ran: an answer nobody can read; its signal aborts. */
  connectionLost(): void {
    if (this.done) return;
    const socket = this.req.socket;
    this.inv?.cancel(rpcError(HttpErrors.CONNECTION_LOST, RpcCode.NETWORK, remoteOf(socket)));
  }

  /**
   * The answer was handed to the socket: the connection's next waiting call may run — at once
   * while the socket's buffer is under its high-water mark, else when it drains (a client that
   * does not read holds its connection's calls, not the server's memory).
   */
  private nextTurn(): void {
    const socket = this.req.socket as TrackedSocket;
    const gate = socket[GATE];
    if (gate === undefined || gate.current !== this) return;
    if (socket.writableLength > socket.writableHighWaterMark) {
      socket.once('drain', () => this.passTurn(gate));
      return;
    }
    this.passTurn(gate);
  }

  private passTurn(gate: Gate): void {
    if (gate.current !== this) return;
    const next = gate.waiting?.shift();
    gate.current = next;
    next?.start();
  }

  readonly resolved = (result: Result): void => {
    if (this.done) return;
    this.done = true;
    try {
      const value = result?.value;
      if (isAsyncIterable(value)) {
        // The provider's generator is stopped (its finally runs) and the caller told why.
        const it = value[Symbol.asyncIterator]();
        if (typeof it.return === 'function') void Promise.resolve(it.return()).catch(() => undefined);
        this.endpoint.fail(this.res, 501, rpcError(HttpErrors.STREAMING, RpcCode.BAD_REQUEST, `${this.service.serviceKey}.${this.method}`));
        return;
      }
      let body: Uint8Array;
      try {
        body = this.core.json().serialize(result?.value ?? null);
      } catch (err) {
        this.endpoint.fail(this.res, 500, RpcError.from(err, RpcCode.SERIALIZATION));
        return;
      }
      const limit = this.core.options.payload;
      if (body.length > limit) {
        this.endpoint.fail(
          this.res,
          500,
          rpcError(HttpErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `the result of ${this.service.serviceKey}.${this.method}`, String(body.length), limit),
        );
        return;
      }
      this.endpoint.succeed(this.res, body, result?.attachments);
    } finally {
      this.core.requestFinished();
      this.nextTurn();
    }
  };

  readonly rejected = (error: unknown): void => {
    if (this.done) return;
    this.done = true;
    try {
      this.endpoint.fail(this.res, undefined, RpcError.from(error, RpcCode.SERVER_ERROR));
    } finally {
      this.core.requestFinished();
      this.nextTurn();
    }
  };
}

/** `application/json`, with parameters (`; charset=utf-8`) or a `+json` suffix. */
function isJsonType(type: string): boolean {
  const semi = type.indexOf(';');
  const base = (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase();
  return base === JSON_TYPE || (base.startsWith('application/') && base.endsWith('+json'));
}

/** What the server reads of a request head. */
interface Head {
  contentType: string | undefined;
  contentLength: string | undefined;
  version: string | undefined;
  group: string | undefined;
  timeout: string | undefined;
  /** Undefined when there were more than `maxAttachments`. */
  attachments: Record<string, string> | undefined;
}

/**
 * One pass over the raw header list for what the server reads (cheaper than Node's lazily built
 * `req.headers` object): the first of each named header, and the `plexus-attachment-<key>` headers
 * as attachments (keys lowercase, as HTTP makes them; values percent-decoded when they decode,
 * else kept as sent), in a null-prototype record.
 */
export function readHead(raw: readonly string[], maxAttachments: number): Head {
  const head: Head = { contentType: undefined, contentLength: undefined, version: undefined, group: undefined, timeout: undefined, attachments: undefined };
  let attachments: Record<string, string> | undefined;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const n = name.length;
    if (n !== 12 && n !== 14 && n <= ATTACHMENT_PREFIX_LENGTH) continue;
    const lower = name.toLowerCase();
    const value = raw[i + 1];
    if (n === 12) {
      if (lower === 'content-type') head.contentType ??= value;
      else if (lower === H.GROUP) head.group ??= value;
    } else if (n === 14) {
      if (lower === 'content-length') head.contentLength ??= value;
      else if (lower === H.VERSION) head.version ??= value;
      else if (lower === H.TIMEOUT) head.timeout ??= value;
    } else if (lower.startsWith(H.ATTACHMENT)) {
      if (++count > maxAttachments) return head;
      let decoded = value;
      if (value.includes('%')) {
        try {
          decoded = decodeURIComponent(value);
        } catch {
          // not percent-encoding: the value as sent
        }
      }
      (attachments ??= Object.create(null) as Record<string, string>)[lower.slice(ATTACHMENT_PREFIX_LENGTH)] = decoded;
    }
  }
  head.attachments = attachments ?? {};
  return head;
}

/** Whether the service can be called with `method` (through the kernel's `hasMethod` when it has one). */
function hasMethod(service: ServiceInvoker, method: string): boolean {
  const hooks = service as ServiceInvoker & { hasMethod?(m: string): boolean };
  if (typeof hooks.hasMethod === 'function') return hooks.hasMethod(method);
  return service.methods.includes(method) || BUILT_IN_METHODS.includes(method);
}

/** The kernel's METHOD_NOT_FOUND wording and reason, answered before the body is read. */
function methodNotFound(service: ServiceInvoker, method: string): RpcError {
  return new RpcError(`Service ${service.serviceKey} has no method "${clip(method)}". Declared: ${service.methods.join(', ')}.`, RpcCode.METHOD_NOT_FOUND, {
    reason: 'PLEXUS_ERR_SERVICE_METHOD_NOT_FOUND',
  });
}

/** Where the JSON broke, and the parser's own words. */
function whereJsonBreaks(bytes: Buffer, e: RpcError): string {
  const text = bytes.toString('utf8');
  const at = jsonErrorOffset(text);
  const cause = e.cause instanceof Error ? e.cause.message : e.message;
  const near = JSON.stringify(text.slice(Math.max(0, at - 10), at + 10));
  return `${at >= text.length ? 'it ends too early' : `at ${describeOffset(text, at)}`}, near ${near} (${clip(cause)})`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value} (${clip(JSON.stringify(value) ?? String(value), 40)})`;
}

/** Bounds text a peer chose before it goes into a message or a log. */
function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PlexusError, type Admin, type Logger, type QosServer } from '@plexus/kernel/spi';
import { consolePage } from './console-page';
import { QosHttpErrors } from './errors';
import { loadMetrics } from './metrics';

/**
 * Limits of the admin server's HTTP parsing (DESIGN §12). The admin server answers probes, an
 * operator's curl and one console page: its requests are small and few, so every limit is tight.
 */
export interface QosHttpOptions {
  /** Open connections at once; more are closed on accept. Default 32: probes, scrapes and a few consoles. */
  maxConnections?: number;
  /** Bytes of request line plus headers; more is answered 431. Default 8 KiB (Node's own is 16 KiB): no endpoint needs more. */
  maxHeaderSize?: number;
  /** Bytes of request body; more is answered 413 and the connection closed. Default 1 KiB: parameters ride in the query. */
  maxBodySize?: number;
  /** Time to receive the headers, ms; then 408. Default 5000: slowloris connections are cut. */
  headersTimeout?: number;
  /** Time to receive the whole request, ms. Default 10000. */
  requestTimeout?: number;
}

export const QOS_HTTP_DEFAULTS: Required<QosHttpOptions> = {
  maxConnections: 32,
  maxHeaderSize: 8 * 1024,
  maxBodySize: 1024,
  headersTimeout: 5000,
  requestTimeout: 10_000,
};

/** Headers a request may carry at most (Node's `maxHeadersCount`); a browser sends about 20. */
const MAX_HEADERS_COUNT = 64;

interface Endpoint {
  method: 'GET' | 'POST';
  run(req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): Promise<void> | void;
}

/**
 * `@plexus/qos`'s `http` server: the endpoints of DESIGN §11 and the console, over `node:http`.
 * Bound to `qos.host` (127.0.0.1 unless configured); mutating endpoints take POST only, want the
 * token when `qos.token` is set (compared in constant time), and refuse pages of other origins.
 * Scope: one per application.
 */
export class QosHttpServer implements QosServer {
  private readonly server: http.Server;
  private readonly options: Required<QosHttpOptions>;
  private readonly endpoints: Record<string, Endpoint>;
  private readonly tokenDigest: Buffer | undefined;
  private bound: { host: string; port: number } | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly admin: Admin,
    private readonly logger: Logger,
    options: QosHttpOptions = {},
  ) {
    this.options = { ...QOS_HTTP_DEFAULTS, ...options };
    const token = admin.config.token;
    this.tokenDigest = token ? digest(token) : undefined;
    this.endpoints = {
      '/': { method: 'GET', run: (_req, res) => this.console(res) },
      '/live': { method: 'GET', run: (_req, res) => this.json(res, this.admin.live ? 200 : 503, { live: this.admin.live }) },
      '/ready': { method: 'GET', run: (_req, res) => this.json(res, this.admin.ready ? 200 : 503, { ready: this.admin.ready }) },
      '/ls': { method: 'GET', run: (_req, res) => this.json(res, 200, this.admin.describe()) },
      '/metrics': { method: 'GET', run: (_req, res) => this.metrics(res) },
      '/offline': { method: 'POST', run: async (_req, res, q) => this.json(res, 200, { offline: await this.admin.offline(optional(q, 'interface')) }) },
      '/online': { method: 'POST', run: async (_req, res, q) => this.json(res, 200, { online: await this.admin.online(optional(q, 'interface')) }) },
      '/weight': {
        method: 'POST',
        run: async (_req, res, q) => {
          const weight = required(q, 'weight');
          const id = await this.admin.weight(required(q, 'interface'), required(q, 'address'), /^\d{1,7}$/.test(weight) ? Number(weight) : NaN);
          this.json(res, 200, { override: id });
        },
      },
    };
    this.server = http.createServer(
      {
        maxHeaderSize: this.options.maxHeaderSize,
        headersTimeout: this.options.headersTimeout,
        requestTimeout: this.options.requestTimeout,
        // Node checks both timeouts on this period (30 s by default): check often enough to honour them.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(this.options.headersTimeout / 2))),
        keepAliveTimeout: 5000,
      },
      (req, res) => this.handle(req, res),
    );
    this.server.maxConnections = this.options.maxConnections;
    this.server.maxHeadersCount = MAX_HEADERS_COUNT;
    // A socket error is the peer's problem; the server keeps serving everyone else.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
  }

  start(): Promise<void> {
    const host = this.admin.config.host ?? '127.0.0.1';
    const port = this.admin.config.port;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.server.off('listening', onListening);
        reject(QosHttpErrors.PORT_IN_USE(host, port, err.code ?? err.message));
      };
      const onListening = () => {
        this.server.off('error', onError);
        const a = this.server.address() as AddressInfo;
        this.bound = { host, port: a.port };
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(port, host);
    });
  }

  address(): { host: string; port: number } | undefined {
    return this.bound;
  }

  close(): Promise<void> {
    if (!this.bound) return Promise.resolve();
    return (this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    }));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    void this.route(req, res).catch((err) => this.fail(res, err));
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://qos.invalid');
    const endpoint = Object.prototype.hasOwnProperty.call(this.endpoints, url.pathname) ? this.endpoints[url.pathname] : undefined;
    if (!endpoint) {
      await this.drain(req);
      throw QosHttpErrors.NOT_FOUND(url.pathname.slice(0, 200), this.list());
    }
    const method = req.method ?? 'GET';
    const allowed = endpoint.method === 'GET' ? ['GET', 'HEAD'] : ['POST'];
    if (!allowed.includes(method)) {
      res.setHeader('Allow', allowed.join(', '));
      await this.drain(req);
      throw QosHttpErrors.METHOD(method.slice(0, 20), url.pathname, allowed.join(' or '));
    }
    this.checkHost(req);
    if (endpoint.method === 'POST') {
      this.checkOrigin(req);
      this.checkToken(req, url.pathname);
    }
    await this.drain(req);
    await endpoint.run(req, res, url.searchParams);
  }

  /** Reads and drops the body, up to `maxBodySize`; a larger one is refused before it is all read. */
  private drain(req: http.IncomingMessage): Promise<void> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.options.maxBodySize) return Promise.reject(QosHttpErrors.BODY_TOO_LARGE(this.options.maxBodySize));
    if (req.complete) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.options.maxBodySize) {
          req.off('data', onData);
          req.pause();
          reject(QosHttpErrors.BODY_TOO_LARGE(this.options.maxBodySize));
        }
      };
      req.on('data', onData);
      req.once('end', () => resolve());
      req.once('error', reject);
    });
  }

  /**
   * On loopback, the Host must be a loopback name: a page whose DNS name was rebound to 127.0.0.1
   * would otherwise read and drive the admin server from a browser.
   */
  private checkHost(req: http.IncomingMessage): void {
    const bound = this.bound?.host ?? '';
    if (!LOOPBACK.has(bound)) return;
    const host = hostOf(req.headers.host ?? '');
    if (!LOOPBACK.has(host)) throw QosHttpErrors.FORBIDDEN(`Host "${String(req.headers.host).slice(0, 100)}" is not a loopback name`);
  }

  /** Browsers send Origin with a POST: one from another origin is a page of another site. */
  private checkOrigin(req: http.IncomingMessage): void {
    if (req.headers['sec-fetch-site'] === 'cross-site') throw QosHttpErrors.FORBIDDEN('a cross-site request');
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw QosHttpErrors.FORBIDDEN('an unreadable Origin');
    }
    if (host !== req.headers.host) throw QosHttpErrors.FORBIDDEN(`a request from the origin ${origin.slice(0, 100)}`);
  }

  private checkToken(req: http.IncomingMessage, path: string): void {
    if (!this.tokenDigest) return;
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    // Both sides hashed first: equal lengths for timingSafeEqual, and no early exit on length.
    if (!timingSafeEqual(digest(given), this.tokenDigest)) throw QosHttpErrors.UNAUTHORIZED(path);
  }

  private console(res: http.ServerResponse): void {
    const nonce = randomBytes(16).toString('base64');
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(consolePage(nonce));
  }

  private async metrics(res: http.ServerResponse): Promise<void> {
    const registry = loadMetrics();
    const text = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType });
    res.end(text);
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(`${JSON.stringify(body)}\n`);
  }

  private fail(res: http.ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = statusOf(err);
    if (status === 500) this.logger.warn(`qos: ${(err as Error)?.message ?? String(err)}`);
    const body: Record<string, unknown> = PlexusError.is(err)
      ? { code: err.code, message: err.message.split('\n  hint: ')[0], hint: err.hint }
      : { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) };
    if (PlexusError.is(err, QosHttpErrors.NOT_FOUND.code)) body.endpoints = this.list();
    if (status === 413) res.setHeader('Connection', 'close');
    this.json(res, status, body);
  }

  private list(): string[] {
    return Object.entries(this.endpoints).map(([path, e]) => `${e.method} ${path}`);
  }
}

/** What Node's own client-error handler answers, kept when the server takes the event over. */
const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const STATUS: Record<string, number> = {
  [QosHttpErrors.NOT_FOUND.code]: 404,
  [QosHttpErrors.METHOD.code]: 405,
  [QosHttpErrors.UNAUTHORIZED.code]: 401,
  [QosHttpErrors.FORBIDDEN.code]: 403,
  [QosHttpErrors.BAD_REQUEST.code]: 400,
  [QosHttpErrors.BODY_TOO_LARGE.code]: 413,
  [QosHttpErrors.NO_METRICS.code]: 404,
  PLEXUS_ERR_QOS_UNKNOWN_SERVICE: 404,
  PLEXUS_ERR_QOS_BAD_WEIGHT: 400,
  PLEXUS_ERR_RULE_MALFORMED: 400,
  PLEXUS_ERR_QOS_STOPPING: 409,
};

function statusOf(err: unknown): number {
  return PlexusError.is(err) ? (STATUS[err.code] ?? 500) : 500;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** `host:port`, `[v6]:port` or `host` → the host part, lower-cased. */
function hostOf(header: string): string {
  const h = header.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const i = h.lastIndexOf(':');
  return i >= 0 ? h.slice(0, i) : h;
}

function optional(q: URLSearchParams, key: string): string | undefined {
  const all = q.getAll(key);
  if (all.length > 1) throw QosHttpErrors.BAD_REQUEST(`"${key}" given ${all.length} times`);
  if (all.length === 1 && all[0] === '') throw QosHttpErrors.BAD_REQUEST(`"${key}" is empty`);
  return all[0];
}

function required(q: URLSearchParams, key: string): string {
  const v = optional(q, key);
  if (v === undefined) throw QosHttpErrors.BAD_REQUEST(`"${key}" is missing`);
  return v;
}

import { PlexusError } from '@plexus/kernel/spi';
import { NacosErrors, withCause } from './nacos-errors';
import type { ResolvedNacosOptions } from './nacos-options';

/** Every open API path of Nacos lives under this context path (the server's default). */
const CONTEXT_PATH = '/nacos';

/** Statuses of a proxy or a server that is starting or stopping: the next server is tried. */
const UNAVAILABLE = new Set([502, 503, 504]);

/** How much of an error body goes into a message. */
const MAX_QUOTED_BODY = 200;

/** One answer of a Nacos server. */
export interface NacosAnswer {
  readonly status: number;
  readonly body: string;
  /** The base URL of the server that answered, for messages. */
  readonly server: string;
}

/** Request parameters; `undefined` values are left out. */
export type NacosParams = Readonly<Record<string, string | undefined>>;

/** What the client tells its owner: whether any server answered the last request. */
export type Reachability = (reachable: boolean) => void;

/** Quotes at most {@link MAX_QUOTED_BODY} characters of a body. */
export function quote(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_QUOTED_BODY ? `${flat.slice(0, MAX_QUOTED_BODY)}…` : flat || '(empty body)';
}

function describe(err: unknown, timeout: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeout} ms`;
  if (e?.cause?.code) return e.cause.code;
  return e?.cause?.message ?? e?.message ?? String(err);
}

/**
 * The HTTP side of the Nacos registry: Node's own `fetch`, every request bounded by
 * `requestTimeout` (answer and body), bodies read as a stream and dropped past
 * `maxResponseBytes`, the servers of `address` tried in turn when one does not answer (the one
 * that answered is asked first next time), and a login token fetched and refreshed when the
 * registry has a username. Scope: one per registry instance; event loop only.
 */
export class NacosHttp {
  private current = 0;
  private token: { value: string; refreshAt: number } | undefined;
  private login: Promise<void> | undefined;
  private readonly closing = new AbortController();

  constructor(
    private readonly options: ResolvedNacosOptions,
    private readonly reachability: Reachability,
  ) {}

  /** Aborts every request in flight; later requests reject with a coded error. */
  close(): void {
    this.closing.abort();
  }

  /**
   * Sends `method path` with `params` (query string for GET and DELETE, form body otherwise) to the
   * first server that answers. Resolves with any HTTP answer but 502/503/504; rejects with
   * `PLEXUS_ERR_NACOS_UNREACHABLE` when no server answered, `..._RESPONSE_TOO_LARGE` for a body
   * over the cap, `..._AUTH` when a login was needed and failed.
   */
  async request(what: string, method: string, path: string, params: NacosParams, headers: Record<string, string> = {}): Promise<NacosAnswer> {
    if (this.options.username !== undefined) await this.ensureToken(what);
    const answer = await this.send(what, method, path, params, headers, true);
    // An expired or revoked token (a server restarted with a new secret): log in again, once.
    if (answer.status === 403 && this.options.username !== undefined && /token/i.test(answer.body)) {
      this.token = undefined;
      await this.ensureToken(what);
      return this.send(what, method, path, params, headers, true);
    }
    return answer;
  }

  private async ensureToken(what: string): Promise<void> {
    if (this.token !== undefined && Date.now() < this.token.refreshAt) return;
    this.login ??= this.doLogin(what).finally(() => (this.login = undefined));
    await this.login;
  }

  private async doLogin(what: string): Promise<void> {
    const params = { username: this.options.username, password: this.options.password ?? '' };
    const answer = await this.send(`login (for ${what})`, 'POST', '/v1/auth/login', params, {}, false);
    if (answer.status !== 200) throw NacosErrors.AUTH(answer.server, `HTTP ${answer.status}: ${quote(answer.body)}`);
    let parsed: { accessToken?: unknown; tokenTtl?: unknown };
    try {
      parsed = JSON.parse(answer.body) as typeof parsed;
    } catch {
      throw NacosErrors.AUTH(answer.server, `the answer is not JSON: ${quote(answer.body)}`);
    }
    if (typeof parsed?.accessToken !== 'string' || parsed.accessToken === '') {
      throw NacosErrors.AUTH(answer.server, `the answer has no accessToken: ${quote(answer.body)}`);
    }
    // tokenTtl is in seconds (18000 by default); renew when 90% of it has passed, as Nacos' own client does.
    const ttl = typeof parsed.tokenTtl === 'number' && parsed.tokenTtl > 0 ? parsed.tokenTtl : 18_000;
    this.token = { value: parsed.accessToken, refreshAt: Date.now() + ttl * 900 };
  }

  private async send(what: string, method: string, path: string, params: NacosParams, headers: Record<string, string>, auth: boolean): Promise<NacosAnswer> {
    const servers = this.options.servers;
    const causes: string[] = [];
    for (let i = 0; i < servers.length; i++) {
      if (this.closing.signal.aborted) throw NacosErrors.CLOSED(what);
      const index = (this.current + i) % servers.length;
      const server = servers[index];
      let answer: NacosAnswer;
      try {
        answer = await this.once(what, server, method, path, params, headers, auth);
      } catch (err) {
        if (this.closing.signal.aborted) throw withCause(NacosErrors.CLOSED(what), err);
        if (PlexusError.is(err)) {
          // The server answered, only too much: it is up.
          this.reachability(true);
          throw err;
        }
        causes.push(`${server}: ${describe(err, this.options.requestTimeout)}`);
        continue;
      }
      if (UNAVAILABLE.has(answer.status)) {
        causes.push(`${server}: HTTP ${answer.status}`);
        continue;
      }
      this.current = index;
      this.reachability(true);
      return answer;
    }
    this.reachability(false);
    throw NacosErrors.UNREACHABLE(what, causes.join('; '));
  }

  private async once(what: string, server: string, method: string, path: string, params: NacosParams, headers: Record<string, string>, auth: boolean): Promise<NacosAnswer> {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) form.append(k, v);
    const query = new URLSearchParams();
    if (auth && this.token !== undefined) query.append('accessToken', this.token.value);
    const inQuery = method === 'GET' || method === 'DELETE';
    if (inQuery) for (const [k, v] of form) query.append(k, v);
    const qs = query.toString();
    const url = `${server}${CONTEXT_PATH}${path}${qs ? `?${qs}` : ''}`;
    const signal = AbortSignal.any([AbortSignal.timeout(this.options.requestTimeout), this.closing.signal]);
    const res = await fetch(url, {
      method,
      headers: inQuery ? headers : { ...headers, 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
      body: inQuery ? undefined : form.toString(),
      signal,
      redirect: 'error',
    });
    const body = await this.readBody(res, what, server);
    return { status: res.status, body, server };
  }

  /** Reads the body as it streams in, counting bytes; past the cap it stops reading and drops it. */
  private async readBody(res: Response, what: string, server: string): Promise<string> {
    const max = this.options.maxResponseBytes;
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > max) {
      await res.body?.cancel().catch(() => undefined);
      throw NacosErrors.RESPONSE_TOO_LARGE(what, server, max);
    }
    if (res.body === null) return '';
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        throw NacosErrors.RESPONSE_TOO_LARGE(what, server, max);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  }
}

import { createHash } from 'node:crypto';
import * as net from 'node:net';
import nock from 'nock';
import type { Logger } from '@plexus/kernel/spi';

// Importing nock overrides `http.request`, `http.get` and `http.ClientRequest` of node:http, and jest
// shares Node's core modules between the test files of one worker: left in place, every later file
// in that worker sends its http requests through nock, which puts its own agent in place of the
// caller's (no keep-alive: requests say `connection: close`; no `maxSockets`). Every file that
// loads this support puts node:http back when it ends.
afterAll(() => nock.restore());

/**
 * An in-test Nacos server built from nock interceptors: it keeps instances and configs the way a
 * Nacos 2.x standalone server does behind its open API v1 (one instance per ip:port per service,
 * services per namespace and group, configs per tenant, group and data id, `casMd5` on publish,
 * tokens from `/v1/auth/login`), and answers with the shapes recorded in `test/fixtures`.
 * Nothing listens on a socket: nock answers requests to `base` inside this process.
 */
export interface StoredInstance {
  ip: string;
  port: number;
  ephemeral: boolean;
  enabled: boolean;
  healthy: boolean;
  weight: number;
  metadata: Record<string, string>;
}

/** One request the fake answered. */
export interface Call {
  method: string;
  path: string;
  params: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
}

export interface FakeNacosOptions {
  /** Turns auth on: every request but login needs a token from this user. */
  auth?: { username: string; password: string; tokenTtl?: number };
}

export class FakeNacos {
  /** `namespace|group@@service` → `ip:port` → instance. */
  readonly services = new Map<string, Map<string, StoredInstance>>();
  /** `tenant|group|dataId` → content. */
  readonly configs = new Map<string, string>();
  readonly calls: Call[] = [];
  /** When set, every request is answered with this status (a server starting up, a broken proxy). */
  failWith: number | undefined;
  /** When set, the next `n` config publishes with a casMd5 fail as if someone wrote meanwhile. */
  casConflicts = 0;
  /** A replacement answer for the instance list (hostile bodies); called with the service name. */
  instanceListOverride: ((service: string) => nock.ReplyFnResult | undefined) | undefined;
  private readonly tokens = new Set<string>();
  private serial = 0;

  constructor(
    readonly base: string,
    private readonly options: FakeNacosOptions = {},
  ) {
    const fake = this;
    for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
      nock(base)
        .persist()
        .intercept((uri: string) => uri.startsWith('/nacos/'), method)
        .reply(function (this: nock.ReplyFnContext, uri: string, body: nock.Body) {
          return fake.handle(method, uri, typeof body === 'string' ? body : '', this.req.headers);
        });
    }
  }

  /** `127.0.0.1:<port>`, the address to give the registry. */
  get address(): string {
    return this.base.replace(/^http:\/\//, '');
  }

  /** What a server restart does to ephemeral data: every instance is gone, configs stay. */
  forgetInstances(): void {
    this.services.clear();
  }

  /** Invalidates every token handed out, as a server restarted with a new secret would. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  count(method: string, path: string): number {
    return this.calls.filter((c) => c.method === method && c.path === path).length;
  }

  instances(service: string, group = 'DEFAULT_GROUP', namespace = ''): StoredInstance[] {
    return [...(this.services.get(`${namespace}|${group}@@${service}`)?.values() ?? [])];
  }

  config(dataId: string, group = 'DEFAULT_GROUP', tenant = ''): string | undefined {
    return this.configs.get(`${tenant}|${group}|${dataId}`);
  }

  /** Puts an instance in as another client (a Dubbo application, a hand-written entry) would. */
  addInstance(service: string, instance: Partial<StoredInstance> & { ip: string; port: number }, group = 'DEFAULT_GROUP', namespace = ''): void {
    this.serviceMap(`${namespace}|${group}@@${service}`).set(`${instance.ip}:${instance.port}`, {
      ephemeral: true,
      enabled: true,
      healthy: true,
      weight: 1,
      metadata: {},
      ...instance,
    });
  }

  private serviceMap(key: string): Map<string, StoredInstance> {
    let map = this.services.get(key);
    if (map === undefined) this.services.set(key, (map = new Map()));
    return map;
  }

  handle(method: string, uri: string, body: string, headers: Record<string, string | string[] | undefined>): nock.ReplyFnResult {
    const url = new URL(uri, this.base);
    const params = new URLSearchParams(url.search);
    for (const [k, v] of new URLSearchParams(body)) params.set(k, v);
    const path = url.pathname.replace(/^\/nacos/, '');
    this.calls.push({ method, path, params, headers });
    if (this.failWith !== undefined) return [this.failWith, 'server is starting'];
    if (path === '/v1/auth/login' && method === 'POST') return this.login(params);
    if (this.options.auth !== undefined && !this.tokens.has(params.get('accessToken') ?? '')) {
      return [403, params.get('accessToken') ? 'token expired!' : 'token invalid!'];
    }
    const namespace = params.get('namespaceId') ?? '';
    const group = params.get('groupName') ?? 'DEFAULT_GROUP';
    const service = params.get('serviceName') ?? '';
    const key = `${namespace}|${group}@@${service}`;
    switch (`${method} ${path}`) {
      case 'POST /v1/ns/instance': {
        if (!service || !params.get('ip') || !params.get('port')) return [400, "Required parameter 'serviceName' type String is not present"];
        let metadata: Record<string, string> = {};
        try {
          metadata = JSON.parse(params.get('metadata') ?? '{}') as Record<string, string>;
        } catch {
          return [400, 'metadata is not json'];
        }
        this.serviceMap(key).set(`${params.get('ip')}:${params.get('port')}`, {
          ip: params.get('ip')!,
          port: Number(params.get('port')),
          ephemeral: params.get('ephemeral') !== 'false',
          enabled: params.get('enabled') !== 'false',
          healthy: params.get('healthy') !== 'false',
          weight: Number(params.get('weight') ?? 1),
          metadata,
        });
        return [200, 'ok'];
      }
      case 'DELETE /v1/ns/instance':
        this.services.get(key)?.delete(`${params.get('ip')}:${params.get('port')}`);
        return [200, 'ok'];
      case 'PUT /v1/ns/instance/beat': {
        const known = this.services.get(key)?.has(`${params.get('ip')}:${params.get('port')}`);
        return [200, known ? { clientBeatInterval: 5000, code: 10200, lightBeatEnabled: true } : { clientBeatInterval: 5000, code: 20404 }];
      }
      case 'GET /v1/ns/instance/list': {
        const override = this.instanceListOverride?.(service);
        if (override !== undefined) return override;
        const hosts = [...(this.services.get(key)?.values() ?? [])].map((i) => ({
          instanceId: `${i.ip}#${i.port}#DEFAULT#${group}@@${service}`,
          ip: i.ip,
          port: i.port,
          weight: i.weight,
          healthy: i.healthy,
          enabled: i.enabled,
          ephemeral: i.ephemeral,
          clusterName: 'DEFAULT',
          serviceName: `${group}@@${service}`,
          metadata: i.metadata,
          instanceHeartBeatInterval: 5000,
          instanceHeartBeatTimeOut: 15000,
          ipDeleteTimeout: 30000,
        }));
        return [
          200,
          {
            name: `${group}@@${service}`,
            groupName: group,
            clusters: '',
            cacheMillis: 10000,
            hosts,
            lastRefTime: Date.now(),
            checksum: '',
            allIPs: false,
            reachProtectionThreshold: false,
            valid: true,
          },
        ];
      }
      case 'GET /v1/ns/service/list': {
        const prefix = `${namespace}|${group}@@`;
        const names = [...this.services.entries()].filter(([k, m]) => k.startsWith(prefix) && m.size > 0).map(([k]) => k.slice(prefix.length));
        const pageNo = Number(params.get('pageNo') ?? 1);
        const pageSize = Number(params.get('pageSize') ?? 20);
        return [200, { count: names.length, doms: names.slice((pageNo - 1) * pageSize, pageNo * pageSize) }];
      }
      case 'GET /v1/cs/configs': {
        const content = this.configs.get(`${params.get('tenant') ?? ''}|${params.get('group')}|${params.get('dataId')}`);
        return content === undefined ? [404, 'config data not exist'] : [200, content, { 'content-type': 'text/plain;charset=UTF-8' }];
      }
      case 'POST /v1/cs/configs': {
        const ckey = `${params.get('tenant') ?? ''}|${params.get('group')}|${params.get('dataId')}`;
        const content = params.get('content') ?? '';
        if (content.trim() === '') return [400, 'content is blank'];
        const cas = headers['casmd5'];
        if (typeof cas === 'string') {
          const current = this.configs.get(ckey);
          const md5 = current === undefined ? '' : createHash('md5').update(current, 'utf8').digest('hex');
          if (this.casConflicts > 0 || md5 !== cas) {
            if (this.casConflicts > 0) this.casConflicts--;
            return [500, 'Cas publish fail, server md5 may have changed.'];
          }
        }
        this.configs.set(ckey, content);
        return [200, 'true'];
      }
      case 'DELETE /v1/cs/configs':
        this.configs.delete(`${params.get('tenant') ?? ''}|${params.get('group')}|${params.get('dataId')}`);
        return [200, 'true'];
      default:
        return [404, `no handler for ${method} ${path}`];
    }
  }

  private login(params: URLSearchParams): nock.ReplyFnResult {
    const auth = this.options.auth;
    if (auth === undefined) return [404, 'auth is off'];
    if (params.get('username') !== auth.username || params.get('password') !== auth.password) return [403, 'unknown user!'];
    const token = `token-${++this.serial}`;
    this.tokens.add(token);
    return [200, { accessToken: token, tokenTtl: auth.tokenTtl ?? 18000, globalAdmin: true, username: auth.username }];
  }
}

/** A loopback port with nothing listening on it: connections to it are refused. */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let nextPort = 18848;

/** A base URL for a fake server: loopback, a port no other fake in this worker uses. */
export function fakeBase(): string {
  return `http://127.0.0.1:${nextPort++}`;
}

/** Only loopback, and only what nock answers or a test opens on purpose. */
export function lockNetwork(): void {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
}

/** A logger that keeps what it was told, for assertions. */
export class RecordingLogger implements Logger {
  readonly lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  debug = (message: string, fields?: Record<string, unknown>) => void this.lines.push({ level: 'debug', message, fields });
  info = (message: string, fields?: Record<string, unknown>) => void this.lines.push({ level: 'info', message, fields });
  warn = (message: string, fields?: Record<string, unknown>) => void this.lines.push({ level: 'warn', message, fields });
  error = (message: string, fields?: Record<string, unknown>) => void this.lines.push({ level: 'error', message, fields });

  warnings(code?: string): { message: string; fields?: Record<string, unknown> }[] {
    return this.lines.filter((l) => l.level === 'warn' && (code === undefined || l.fields?.code === code));
  }
}

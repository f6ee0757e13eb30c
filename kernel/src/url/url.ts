import { UrlErrors } from '../errors/catalogue';

/**
 * The address of a service: `plexus://127.0.0.1:20880/demo.Greeter?version=1.0.0&timeout=500&sayHello.timeout=200`.
 * Parameters are strings; a parameter written `<method>.<key>` applies to that method only.
 * Immutable: the `with*` methods return a new URL.
 */
export class URL {
  readonly protocol: string;
  readonly host: string;
  readonly port: number;
  /** The service interface, e.g. `demo.Greeter` (no leading slash). */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  private cachedString?: string;
  private cachedAddress?: string;
  private cachedServiceKey?: string;

  constructor(protocol: string, host: string, port: number, path = '', params: Record<string, string> = {}) {
    this.protocol = protocol;
    this.host = host;
    this.port = port;
    this.path = path.replace(/^\/+/, '');
    this.params = Object.freeze(Object.assign(Object.create(null), params));
  }

  /** Parses `proto://host:port/path?k=v`; also accepts `unix:///tmp/x.sock` and `local:///dir`. */
  static parse(text: string): URL {
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\[[^\]]*\]|[^/:?#]*)(?::(\d+))?(\/[^?#]*)?(?:\?([^#]*))?$/.exec(text.trim());
    if (!m) throw UrlErrors.INVALID(text);
    const [, protocol, host, port, path, query] = m;
    const params: Record<string, string> = {};
    if (query) {
      for (const part of query.split('&')) {
        if (!part) continue;
        const eq = part.indexOf('=');
        const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
        const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
        params[k] = v;
      }
    }
    return new URL(protocol.toLowerCase(), host.replace(/^\[|\]$/g, ''), port ? Number(port) : 0, path ? decodeURIComponent(path) : '', params);
  }

  /** `host:port`, the key of a connection. */
  get address(): string {
    if (this.cachedAddress === undefined) {
      this.cachedAddress = this.port ? `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}` : this.host;
    }
    return this.cachedAddress;
  }

  /** `group/interface:version`, the key of an exported service. */
  get serviceKey(): string {
    if (this.cachedServiceKey === undefined) this.cachedServiceKey = serviceKey(this.path, this.params.version, this.params.group);
    return this.cachedServiceKey;
  }

  getParam(key: string): string | undefined;
  getParam(key: string, fallback: string): string;
  getParam(key: string, fallback?: string): string | undefined {
    const v = this.params[key];
    return v === undefined || v === '' ? fallback : v;
  }

  getNumber(key: string, fallback: number): number {
    const v = this.params[key];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    return Number.isFinite(n) ? n : fallback;
  }

  getBoolean(key: string, fallback: boolean): boolean {
    const v = this.params[key];
    if (v === undefined || v === '') return fallback;
    return v === 'true' || v === '1';
  }

  /** The method-level value if set, else the service-level one. */
  getMethodParam(method: string, key: string): string | undefined;
  getMethodParam(method: string, key: string, fallback: string): string;
  getMethodParam(method: string, key: string, fallback?: string): string | undefined {
    const v = this.params[`${method}.${key}`];
    if (v !== undefined && v !== '') return v;
    return this.getParam(key, fallback as string);
  }

  getMethodNumber(method: string, key: string, fallback: number): number {
    const v = this.getMethodParam(method, key);
    if (v === undefined) return fallback;
    const n = Number(v);
    return Number.isFinite(n) ? n : fallback;
  }

  withParams(params: Record<string, string | number | boolean | undefined>): URL {
    const next: Record<string, string> = { ...this.params };
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined) delete next[k];
      else next[k] = String(v);
    }
    return new URL(this.protocol, this.host, this.port, this.path, next);
  }

  withPath(path: string): URL {
    return new URL(this.protocol, this.host, this.port, path, { ...this.params });
  }

  withAddress(host: string, port: number): URL {
    return new URL(this.protocol, host, port, this.path, { ...this.params });
  }

  withProtocol(protocol: string): URL {
    return new URL(protocol, this.host, this.port, this.path, { ...this.params });
  }

  /** Canonical text form; parameters are sorted so equal URLs have equal strings. */
  toString(): string {
    if (this.cachedString !== undefined) return this.cachedString;
    const keys = Object.keys(this.params).sort();
    const query = keys.map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(this.params[k])}`).join('&');
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    const port = this.port ? `:${this.port}` : '';
    const path = this.path ? `/${this.path.split('/').map(encodeURIComponent).join('/')}` : '';
    this.cachedString = `${this.protocol}://${host}${port}${path}${query ? `?${query}` : ''}`;
    return this.cachedString;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** `group/interface:version` with empty parts left out. */
export function serviceKey(iface: string, version?: string, group?: string): string {
  let key = iface;
  if (group) key = `${group}/${key}`;
  if (version && version !== '0.0.0') key = `${key}:${version}`;
  return key;
}

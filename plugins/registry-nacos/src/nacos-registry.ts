import {
  categoryOf,
  subscribedCategories,
  type Logger,
  type NotifyListener,
  type Registry,
  type RegistryCategory,
  type RegistryState,
  type URL,
} from '@plexus/kernel/spi';
import { NacosErrors } from './nacos-errors';
import { NacosHttp, quote, type NacosAnswer } from './nacos-http';
import { resolveNacosOptions, type NacosRegistryOptions, type ResolvedNacosOptions } from './nacos-options';
import {
  decodeEntryUrl,
  decodeHost,
  INSTANCE_CATEGORIES,
  instanceName,
  metadataOf,
  parseServiceName,
  ruleDataId,
  ruleLines,
  serviceNameOf,
} from './nacos-naming';
import { RuleStore } from './rule-store';

const INSTANCE = '/v1/ns/instance';
const BEAT = '/v1/ns/instance/beat';
const INSTANCE_LIST = '/v1/ns/instance/list';
const SERVICE_LIST = '/v1/ns/service/list';

/** Nacos' answer code to a beat for an instance it does not know (`NamingResponseCode.RESOURCE_NOT_FOUND`). */
const BEAT_NOT_FOUND = 20404;

/** Service names asked per page of `/v1/ns/service/list`. */
const SERVICE_PAGE_SIZE = 500;
/** Pages read per service listing: 200 × 500 = 100 000 names, far past any real namespace. */
const MAX_SERVICE_PAGES = 200;

/** One entry this instance registered as a Nacos instance. */
interface Instance {
  readonly url: URL;
  readonly service: string;
  /** `service ip:port`: the instance's identity in Nacos 2.x. */
  readonly identity: string;
}

/** A list of one (interface, category), read by polling and shared by its subscriptions. */
interface Watch {
  readonly iface: string;
  readonly category: RegistryCategory;
  readonly subscribers: Set<Subscription>;
  /** The last list read, or undefined before the first read. */
  urls: URL[] | undefined;
  /** The sorted URL strings of `urls`, to tell a change. */
  keys: string;
  /** The newest read started, and the newest applied: an older answer never overwrites a newer one. */
  started: number;
  applied: number;
  /** Entries warned about, so each bad entry is warned about once while it stays. */
  warned: Set<string>;
}

/** One `subscribe(url, listener)`: its watches, delivered at most once per microtask. */
interface Subscription {
  readonly key: string;
  readonly listener: NotifyListener;
  readonly watches: Watch[];
  active: boolean;
  scheduled: boolean;
  /** Whether the listener was given a list yet. */
  delivered: boolean;
}

/** A console logger for instances built in code without one. */
const consoleLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => console.warn(message, fields ?? ''),
  error: (message, fields) => console.error(message, fields ?? ''),
};

/**
 * The `nacos` registry, over the Nacos 2.x open API v1 (plain HTTP, Node's own `fetch`).
 *
 * Providers and consumers are ephemeral Nacos instances of the service
 * `{category}:{interface}:{version}:{group}` (Dubbo's naming), ip and port from the URL, the whole
 * Plexus URL in the metadata key `plexus.url`; a heartbeat every `beatInterval` keeps them alive,
 * and an instance the server forgot (a beat answered 20404) is registered again. `routers` and
 * `configurators` are persistent rule configs in the config API (see {@link RuleStore}).
 *
 * Subscriptions poll every `pollInterval`: one listing of the group's service names, then the
 * instance list of every name of the watched interface and category (all versions and groups:
 * the kernel filters), and notify when a list changed. Every request is bounded by
 * `requestTimeout`, tries the next server of `address` when one fails, and rejects with a coded
 * error. State: `connected` at the first answer, `disconnected` when no server answers,
 * `reconnected` when one answers again (Nacos may have dropped our instances meanwhile, so the
 * registry manager registers again; watches resume by themselves).
 *
 * Scope: one instance per application and registry entry; event loop only.
 */
export class NacosRegistry implements Registry {
  readonly options: ResolvedNacosOptions;
  readonly logger: Logger;
  private readonly http: NacosHttp;
  private readonly rules: RuleStore;
  /** URL string → instance, for what this instance registered as instances. */
  private readonly registered = new Map<string, Instance>();
  private readonly watches = new Map<string, Watch>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly stateListeners = new Set<(state: RegistryState) => void>();
  private state: 'new' | 'up' | 'down' = 'new';
  private everConnected = false;
  private beatTimer: NodeJS.Timeout | undefined;
  private beating = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: Readonly<Record<string, unknown>> | NacosRegistryOptions = {}, logger?: Logger) {
    this.options = resolveNacosOptions(options as Readonly<Record<string, unknown>>);
    this.logger = logger ?? consoleLogger;
    this.http = new NacosHttp(this.options, (ok) => this.reachable(ok));
    this.rules = new RuleStore(this.http, this.options);
  }

  async register(url: URL): Promise<void> {
    this.ensureOpen('register');
    const category = categoryOf(url);
    if (!INSTANCE_CATEGORIES.has(category)) {
      await this.rules.add(url, category);
      return;
    }
    const entry = this.instanceOf(url);
    await this.put(entry, 'register');
    this.registered.set(url.toString(), entry);
    this.startBeats();
  }

  async unregister(url: URL): Promise<void> {
    this.ensureOpen('unregister');
    const category = categoryOf(url);
    if (!INSTANCE_CATEGORIES.has(category)) {
      await this.rules.remove(url, category);
      return;
    }
    const entry = this.instanceOf(url);
    // Forgotten before the DELETE: a beat answered 20404 meanwhile must not register it again.
    // Should the DELETE fail, its beats have stopped and Nacos drops the instance within 30 s.
    this.registered.delete(url.toString());
    await this.remove(entry, 'unregister');
    // Nacos keeps one instance per ip:port and service: another URL of ours sharing it is put back.
    for (const other of this.registered.values()) {
      if (other.identity === entry.identity) {
        await this.put(other, 'unregister');
        break;
      }
    }
    if (this.registered.size === 0) this.stopBeats();
  }

  async subscribe(url: URL, listener: NotifyListener): Promise<void> {
    this.ensureOpen('subscribe');
    const key = url.toString();
    const existing = this.find(key, listener);
    if (existing !== undefined) {
      // The manager subscribes again after 'reconnected': read afresh, deliver the current list, add nothing.
      await this.refreshAll(existing.watches);
      this.schedule(existing);
      return;
    }
    const watches = subscribedCategories(url).map((category) => this.watchOf(url.path, category));
    const sub: Subscription = { key, listener, watches, active: true, scheduled: false, delivered: false };
    this.subscriptions.add(sub);
    for (const watch of watches) watch.subscribers.add(sub);
    try {
      await this.refreshAll(watches.filter((w) => w.urls === undefined));
    } catch (err) {
      this.cancel(sub);
      throw err;
    }
    // A watch read just now has scheduled the first list already; a shared one had nothing new to say.
    if (!sub.delivered) this.schedule(sub);
    this.startPolling();
  }

  async unsubscribe(url: URL, listener: NotifyListener): Promise<void> {
    const sub = this.find(url.toString(), listener);
    if (sub !== undefined) this.cancel(sub);
  }

  async lookup(url: URL): Promise<URL[]> {
    this.ensureOpen('lookup');
    const out: URL[] = [];
    const categories = subscribedCategories(url);
    const names = categories.some((c) => INSTANCE_CATEGORIES.has(c)) ? await this.serviceNames('lookup') : [];
    for (const category of categories) {
      const scratch = this.newWatch(url.path, category);
      out.push(...(await this.read(scratch, names, 'lookup')));
    }
    return out;
  }

  /** Interfaces with a provider or consumer instance in the group (rule configs are not service names). */
  async services(): Promise<string[]> {
    this.ensureOpen('list services');
    const out = new Set<string>();
    for (const name of await this.serviceNames('list services')) {
      const parsed = parseServiceName(name);
      if (parsed !== undefined && INSTANCE_CATEGORIES.has(parsed.category as RegistryCategory)) out.add(parsed.iface);
    }
    return [...out].sort();
  }

  onStateChange(listener: (state: RegistryState) => void): void {
    this.stateListeners.add(listener);
  }

  /** Deletes the instances this instance registered (rules stay), stops beats and polls. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopBeats();
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    for (const sub of [...this.subscriptions]) this.cancel(sub);
    const seen = new Set<string>();
    for (const entry of this.registered.values()) {
      if (seen.has(entry.identity)) continue;
      seen.add(entry.identity);
      await this.remove(entry, 'close').catch((err: Error) =>
        this.logger.warn(`nacos registry: could not remove ${entry.identity} on close (Nacos drops it after its heartbeats stop): ${err.message}`, {
          code: (err as { code?: string }).code,
        }),
      );
    }
    this.registered.clear();
    this.stateListeners.clear();
    this.http.close();
  }

  // --- instances -------------------------------------------------------------------------------

  private instanceOf(url: URL): Instance {
    const service = serviceNameOf(url);
    return { url, service, identity: `${service} ${url.host}:${url.port}` };
  }

  private base(service: string): Record<string, string | undefined> {
    return { serviceName: service, groupName: this.options.group, namespaceId: this.options.namespace || undefined };
  }

  private async put(entry: Instance, what: string): Promise<void> {
    const answer = await this.http.request(what, 'POST', INSTANCE, {
      ...this.base(entry.service),
      ip: entry.url.host,
      port: String(entry.url.port),
      ephemeral: 'true',
      enabled: 'true',
      healthy: 'true',
      metadata: JSON.stringify(metadataOf(entry.url)),
    });
    expectOk(answer, what);
  }

  private async remove(entry: Instance, what: string): Promise<void> {
    const answer = await this.http.request(what, 'DELETE', INSTANCE, {
      ...this.base(entry.service),
      ip: entry.url.host,
      port: String(entry.url.port),
      ephemeral: 'true',
    });
    expectOk(answer, what);
  }

  private startBeats(): void {
    if (this.beatTimer !== undefined || this.closed) return;
    this.beatTimer = setInterval(() => void this.beat(), this.options.beatInterval);
    this.beatTimer.unref();
  }

  private stopBeats(): void {
    clearInterval(this.beatTimer);
    this.beatTimer = undefined;
  }

  /** One heartbeat per instance; an instance the server does not know is registered again. */
  private async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      const seen = new Set<string>();
      for (const entry of [...this.registered.values()]) {
        if (this.closed) return;
        if (seen.has(entry.identity)) continue;
        seen.add(entry.identity);
        await this.beatOne(entry).catch((err: Error) => this.logger.debug(`nacos registry: heartbeat of ${entry.identity} failed: ${err.message}`));
      }
    } finally {
      this.beating = false;
    }
  }

  private async beatOne(entry: Instance): Promise<void> {
    // A light beat (no `beat` body): the server answers 20404 instead of re-creating an instance without our metadata.
    const answer = await this.http.request('heartbeat', 'PUT', BEAT, {
      ...this.base(entry.service),
      ip: entry.url.host,
      port: String(entry.url.port),
      clusterName: 'DEFAULT',
    });
    if (answer.status === 404 || (answer.status === 200 && beatCode(answer.body) === BEAT_NOT_FOUND)) {
      if (this.closed || !this.registered.has(entry.url.toString())) return;
      this.logger.info(`nacos registry: ${answer.server} no longer knows ${entry.identity}; registering it again`);
      await this.put(entry, 'register again');
      return;
    }
    if (answer.status !== 200) throw NacosErrors.REQUEST('heartbeat', answer.server, answer.status, quote(answer.body));
  }

  // --- watches ---------------------------------------------------------------------------------

  private newWatch(iface: string, category: RegistryCategory): Watch {
    return { iface, category, subscribers: new Set(), urls: undefined, keys: '', started: 0, applied: 0, warned: new Set() };
  }

  private watchOf(iface: string, category: RegistryCategory): Watch {
    const id = `${category}\u0000${iface}`;
    let watch = this.watches.get(id);
    if (watch === undefined) this.watches.set(id, (watch = this.newWatch(iface, category)));
    return watch;
  }

  private find(key: string, listener: NotifyListener): Subscription | undefined {
    for (const s of this.subscriptions) if (s.key === key && s.listener === listener) return s;
    return undefined;
  }

  private cancel(sub: Subscription): void {
    sub.active = false;
    this.subscriptions.delete(sub);
    for (const watch of sub.watches) {
      watch.subscribers.delete(sub);
      if (watch.subscribers.size === 0) this.watches.delete(`${watch.category}\u0000${watch.iface}`);
    }
  }

  private startPolling(): void {
    if (this.pollTimer !== undefined || this.closed) return;
    this.pollTimer = setTimeout(() => void this.poll(), this.options.pollInterval);
    this.pollTimer.unref();
  }

  /** One polling round over every watch; the next round is armed when this one ends, so rounds never overlap. */
  private async poll(): Promise<void> {
    this.pollTimer = undefined;
    if (this.closed || this.watches.size === 0) return;
    await this.refreshAll([...this.watches.values()]).catch((err: Error) =>
      this.logger.debug(`nacos registry: polling failed, lists stay as they were: ${err.message}`),
    );
    this.startPolling();
  }

  /** Reads `watches` again (one service listing for all of them) and notifies those that changed. */
  private async refreshAll(watches: Watch[]): Promise<void> {
    if (watches.length === 0) return;
    const names = watches.some((w) => INSTANCE_CATEGORIES.has(w.category)) ? await this.serviceNames('subscribe') : [];
    let failure: unknown;
    for (const watch of watches) {
      try {
        await this.refresh(watch, names);
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  }

  private async refresh(watch: Watch, names: readonly string[]): Promise<void> {
    const seq = ++watch.started;
    const urls = await this.read(watch, names, 'subscribe');
    if (seq < watch.applied || this.closed) return;
    watch.applied = seq;
    const keys = urls.map((u) => u.toString()).sort().join('\n');
    if (watch.urls !== undefined && keys === watch.keys) return;
    watch.urls = urls;
    watch.keys = keys;
    for (const sub of watch.subscribers) this.schedule(sub);
  }

  /** The current entries of `watch`'s interface and category; bad entries are skipped with one warning each. */
  private async read(watch: Watch, names: readonly string[], what: string): Promise<URL[]> {
    const present = new Set<string>();
    const out = new Map<string, URL>();
    const skip = (entry: string, reason: string) => {
      present.add(entry);
      if (reason === '' || watch.warned.has(entry)) return;
      watch.warned.add(entry);
      const warning = NacosErrors.BAD_ENTRY(entry, reason);
      this.logger.warn(warning.message.split('\n')[0], { code: warning.code, entry });
    };
    if (INSTANCE_CATEGORIES.has(watch.category)) {
      for (const name of names) {
        const parsed = parseServiceName(name);
        if (parsed === undefined || parsed.category !== watch.category || parsed.iface !== watch.iface) continue;
        for (const host of await this.instances(name, what)) {
          const decoded = decodeHost(host, watch.iface, watch.category);
          if (decoded.url !== undefined) out.set(decoded.url.toString(), decoded.url);
          else skip(instanceName(name, host), decoded.skip);
        }
      }
    } else {
      const config = await this.rules.read(watch.iface, watch.category, what);
      const dataId = ruleDataId(watch.iface, watch.category);
      for (const line of ruleLines(config.content)) {
        const decoded = decodeEntryUrl(line, watch.iface, watch.category);
        if (decoded.url !== undefined) out.set(decoded.url.toString(), decoded.url);
        else skip(`${dataId} line "${line.slice(0, 80)}"`, decoded.skip.replace(/^it has no .*$/, 'it is not a URL'));
      }
    }
    // Forget warnings about entries that are gone, so the set stays as small as the bad entries present.
    for (const entry of watch.warned) if (!present.has(entry)) watch.warned.delete(entry);
    return [...out.values()];
  }

  /** The hosts of one service; a malformed answer rejects (the last list stays) with a coded warning. */
  private async instances(service: string, what: string): Promise<unknown[]> {
    const answer = await this.http.request(what, 'GET', INSTANCE_LIST, { ...this.base(service), healthyOnly: 'false' });
    // Nacos 1.x answered 404 for a service without instances; 2.x answers an empty list.
    if (answer.status === 404) return [];
    if (answer.status !== 200) throw NacosErrors.REQUEST(`${what} (instances of ${service})`, answer.server, answer.status, quote(answer.body));
    const body = this.json(answer, `${what} (instances of ${service})`) as { hosts?: unknown } | undefined;
    if (body === undefined || !Array.isArray(body.hosts)) throw this.badResponse(answer, `${what} (instances of ${service})`, 'has no hosts array');
    return body.hosts;
  }

  /** Every service name of the group, page by page. */
  private async serviceNames(what: string): Promise<string[]> {
    const names: string[] = [];
    for (let page = 1; page <= MAX_SERVICE_PAGES; page++) {
      const answer = await this.http.request(what, 'GET', SERVICE_LIST, {
        pageNo: String(page),
        pageSize: String(SERVICE_PAGE_SIZE),
        groupName: this.options.group,
        namespaceId: this.options.namespace || undefined,
      });
      if (answer.status !== 200) throw NacosErrors.REQUEST(`${what} (service list)`, answer.server, answer.status, quote(answer.body));
      const body = this.json(answer, `${what} (service list)`) as { count?: unknown; doms?: unknown } | undefined;
      if (body === undefined || !Array.isArray(body.doms)) throw this.badResponse(answer, `${what} (service list)`, 'has no doms array');
      for (const d of body.doms) if (typeof d === 'string') names.push(d);
      const count = typeof body.count === 'number' ? body.count : 0;
      if (body.doms.length < SERVICE_PAGE_SIZE || names.length >= count) return names;
    }
    this.logger.warn(`nacos registry: stopped listing service names after ${MAX_SERVICE_PAGES * SERVICE_PAGE_SIZE}; interfaces past that are not seen`);
    return names;
  }

  private json(answer: NacosAnswer, what: string): unknown {
    try {
      return JSON.parse(answer.body);
    } catch {
      throw this.badResponse(answer, what, `is not JSON (${quote(answer.body)})`);
    }
  }

  /** A coded error for a malformed answer, warned about as it is made (the caller keeps its last list). */
  private badResponse(answer: NacosAnswer, what: string, problem: string): Error {
    const err = NacosErrors.BAD_RESPONSE(what, answer.server, problem);
    this.logger.warn(err.message.split('\n')[0], { code: err.code, server: answer.server });
    return err;
  }

  private schedule(sub: Subscription): void {
    if (sub.scheduled || !sub.active) return;
    sub.scheduled = true;
    // Later, never inside subscribe or a poll: a listener may call back into the registry.
    queueMicrotask(() => {
      sub.scheduled = false;
      if (!sub.active) return;
      sub.delivered = true;
      const urls: URL[] = [];
      for (const watch of sub.watches) if (watch.urls !== undefined) urls.push(...watch.urls);
      try {
        sub.listener(urls);
      } catch (err) {
        this.logger.error(`nacos registry: a subscriber failed: ${(err as Error)?.message ?? String(err)}`);
      }
    });
  }

  // --- state -----------------------------------------------------------------------------------

  private reachable(ok: boolean): void {
    if (this.closed) return;
    let event: RegistryState | undefined;
    if (ok && this.state !== 'up') {
      event = this.everConnected ? 'reconnected' : 'connected';
      this.state = 'up';
      this.everConnected = true;
    } else if (!ok && this.state !== 'down') {
      event = 'disconnected';
      this.state = 'down';
    }
    if (event === undefined) return;
    for (const listener of this.stateListeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error(`nacos registry: a state listener failed: ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw NacosErrors.CLOSED(what);
  }
}

/** Register and deregister answer the text `ok`. */
function expectOk(answer: NacosAnswer, what: string): void {
  if (answer.status !== 200 || answer.body.trim() !== 'ok') throw NacosErrors.REQUEST(what, answer.server, answer.status, quote(answer.body));
}

/** The `code` of a beat answer, or undefined when it has none. */
function beatCode(body: string): number | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown };
    return typeof parsed?.code === 'number' ? parsed.code : undefined;
  } catch {
    return undefined;
  }
}

import { randomBytes } from 'node:crypto';
import type { InProcessRuleBook } from '../cluster/rule-book';
import { entryId, isRuleCategory, parseRuleEntry, type RuleScope, type SettingsPatch } from '../cluster/rule-entries';
import { RuleErrors } from '../cluster/rule-errors';
import { suggest } from '../errors/suggest';
import { categoryOf } from '../registry/layout';
import type { ManagedRegistry, RegistryManager } from '../registry/registry-manager';
import type { Logger } from '../spi/logger';
import type { RouteRule } from '../spi/router';
import { URL } from '../url/url';

/** The token of the application's in-process rule store (used with `registry: none`). */
export const RULE_BOOK = Symbol.for('plexus.rule-book');

/** Which references a rule applies to; absent keys match every reference of the interface. */
export interface RuleScopeSpec {
  /** Only references of this version. */
  version?: string;
  /** Only references of this group (or that merge it: `*` or a list naming it). */
  group?: string;
  /** Only references of the consumer application with this name. */
  application?: string;
}

/** A routing rule for `app.rules.route`. */
export interface RouteSpec extends RuleScopeSpec {
  interface: string;
  /** The router that reads the rule: `condition`, `tag`, or a plugin router's name. */
  router: string;
  /** The rule text, in the router's syntax. */
  rule: string;
  /** Writing again with the same id replaces the rule. Default: a new random id. */
  id?: string;
  /** Lower applies first. Default 0. */
  priority?: number;
  /** When routing leaves no provider: true fails the call, false falls back to the unrouted list. Default false. */
  force?: boolean;
  /** False keeps the rule stored but not applied. Default true. */
  enabled?: boolean;
}

/** An override for `app.rules.override`. */
export interface OverrideSpec extends RuleScopeSpec {
  interface: string;
  /** `0.0.0.0` (every provider, the default), a host (every port of it) or `host:port`. */
  address?: string;
  /** The providers' load-balancing weight (0 drains them). */
  weight?: number;
  /** True takes the providers out of every consumer's list; false brings back ones a wider override disabled. */
  disabled?: boolean;
  /** The reference's timeout, ms (0.0.0.0 only). */
  timeout?: number;
  /** The reference's retries (0.0.0.0 only). */
  retries?: number;
  /** Per-method timeout/retries (0.0.0.0 only). */
  methods?: Record<string, SettingsPatch>;
  /** Writing again with the same id replaces the override. Default: a new random id. */
  id?: string;
  /** False keeps the override stored but not applied. Default true. */
  enabled?: boolean;
}

/** One stored rule entry as `list` reports it. */
export interface RuleInfo {
  readonly id: string;
  readonly kind: 'route' | 'override';
  readonly interface: string;
  /** The entry as stored. */
  readonly url: string;
  /** Why consumers refuse the entry (coded); absent for a valid one. */
  readonly problem?: string;
  readonly scope?: RuleScope;
  /** For a routing rule. */
  readonly route?: RouteRule;
  /** For an override. */
  readonly override?: {
    readonly address: string;
    readonly enabled: boolean;
    readonly weight?: number;
    readonly disabled?: boolean;
    readonly service: SettingsPatch;
    readonly methods: Record<string, SettingsPatch>;
  };
}

/** How long a registry without `lookup` may take to hand over its first list when rules are read, ms. */
const READ_TIMEOUT = 5000;

const ROUTE_SPEC_KEYS = ['interface', 'router', 'rule', 'id', 'priority', 'force', 'enabled', 'version', 'group', 'application'];
const OVERRIDE_SPEC_KEYS = ['interface', 'address', 'weight', 'disabled', 'timeout', 'retries', 'methods', 'id', 'enabled', 'version', 'group', 'application'];

let lastTimestamp = 0;
/** Strictly increasing in this process, so two writes of one id in the same millisecond still order. */
function timestamp(): number {
  lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
  return lastTimestamp;
}

/**
 * Writes, lists and removes dynamic rules (`app.rules`): routing rules as `routers` entries and
 * overrides as `configurators` entries of every registry of the application, which running
 * consumers apply within seconds (docs/guide/dynamic-rules.md). With `registry: none` they live in
 * this process only and apply to its own references. Every rule is checked before anything is
 * written: a malformed one is refused with PLEXUS_ERR_RULE_MALFORMED.
 */
export class Rules {
  constructor(
    private readonly registries: () => RegistryManager | null,
    private readonly book: InProcessRuleBook,
    private readonly logger: Logger,
    /** Interfaces the application provides or refers to: listed too when a registry cannot enumerate its own. */
    private readonly known: () => readonly string[] = () => [],
  ) {}

  /** The entry `spec` would be written as, checked; throws PLEXUS_ERR_RULE_MALFORMED. */
  static routeEntry(spec: RouteSpec): URL {
    checkSpec(spec, ROUTE_SPEC_KEYS, 'route');
    const params: Record<string, string> = {
      category: 'routers',
      id: spec.id ?? `route-${randomBytes(6).toString('hex')}`,
      router: text(spec.router),
      rule: text(spec.rule),
      timestamp: String(timestamp()),
    };
    put(params, 'priority', spec.priority);
    put(params, 'force', spec.force);
    put(params, 'enabled', spec.enabled);
    scope(params, spec);
    return checked(new URL('route', '0.0.0.0', 0, spec.interface, params));
  }

  /** The entry `spec` would be written as, checked; throws PLEXUS_ERR_RULE_MALFORMED. */
  static overrideEntry(spec: OverrideSpec): URL {
    checkSpec(spec, OVERRIDE_SPEC_KEYS, 'override');
    const params: Record<string, string> = {
      category: 'configurators',
      id: spec.id ?? `override-${randomBytes(6).toString('hex')}`,
      timestamp: String(timestamp()),
    };
    for (const k of ['weight', 'disabled', 'timeout', 'retries', 'enabled'] as const) put(params, k, spec[k]);
    if (spec.methods !== undefined) {
      if (typeof spec.methods !== 'object' || spec.methods === null) throw RuleErrors.MALFORMED('override', 'methods must be a mapping of method name to { timeout, retries }');
      for (const [m, patch] of Object.entries(spec.methods)) {
        if (typeof patch !== 'object' || patch === null) throw RuleErrors.MALFORMED('override', `methods.${m} must be { timeout, retries }`);
        for (const [k, v] of Object.entries(patch)) put(params, `${m}.${k}`, v as unknown);
      }
    }
    scope(params, spec);
    const address = spec.address === undefined ? '0.0.0.0' : text(spec.address);
    const m = /^(\[[^\]]+\]|[^:[\]/?#]+)(?::(\d{1,5}))?$/.exec(address);
    if (!m) throw RuleErrors.MALFORMED(`override of ${spec.interface}`, `address ${JSON.stringify(address)} is not 0.0.0.0, a host or host:port`);
    return checked(new URL('override', m[1].replace(/^\[|\]$/g, ''), m[2] ? Number(m[2]) : 0, spec.interface, params));
  }

  /** Writes a routing rule (replacing the rule of the same id); resolves with it as stored. */
  async route(spec: RouteSpec): Promise<RuleInfo> {
    const url = Rules.routeEntry(spec);
    await this.write(url);
    return infoOf(url);
  }

  /** Writes an override (replacing the override of the same id); resolves with it as stored. */
  async override(spec: OverrideSpec): Promise<RuleInfo> {
    const url = Rules.overrideEntry(spec);
    await this.write(url);
    return infoOf(url);
  }

  /**
   * The rule entries stored for `iface`, or for every interface the registries list (and those this
   * application provides or refers to), malformed ones included (with their `problem`). Sorted by
   * interface, then id.
   */
  async list(iface?: string): Promise<RuleInfo[]> {
    return (await this.entries(iface)).map(infoOf).sort((a, b) => cmp(a.interface, b.interface) || cmp(a.id, b.id) || cmp(a.url, b.url));
  }

  /**
   * Removes every entry with rule id `id` (of `iface`, or of any interface); resolves with how many
   * entries went. Throws PLEXUS_ERR_RULE_NOT_FOUND when there was none.
   */
  async remove(id: string, iface?: string): Promise<number> {
    const doomed = (await this.entries(iface)).filter((u) => entryId(u) === id);
    if (doomed.length === 0) throw RuleErrors.NOT_FOUND(id, iface === undefined ? 'in any interface' : `for ${iface}`);
    const manager = this.registries();
    if (manager === null) {
      for (const u of doomed) this.book.remove(u);
      return doomed.length;
    }
    const failures: string[] = [];
    await Promise.all(
      manager.registries.map(async (r) => {
        for (const u of doomed) {
          try {
            await r.backend.unregister(u);
          } catch (err) {
            failures.push(`${r.address}: ${message(err)}`);
            return;
          }
        }
      }),
    );
    if (failures.length) throw RuleErrors.REGISTRY(`remove rule "${id}"`, failures.join('; '));
    return doomed.length;
  }

  private async write(url: URL): Promise<void> {
    const id = entryId(url);
    const manager = this.registries();
    if (manager === null) {
      for (const old of this.book.list(url.path)) if (entryId(old) === id && old.toString() !== url.toString()) this.book.remove(old);
      this.book.put(url);
      return;
    }
    const failures: string[] = [];
    await Promise.all(
      manager.registries.map(async (r) => {
        try {
          await r.backend.register(url);
          // The new entry is in place before the old one goes: consumers never see the rule missing.
          for (const old of await read(r, url.path)) if (entryId(old) === id && old.toString() !== url.toString()) await r.backend.unregister(old);
        } catch (err) {
          failures.push(`${r.address}: ${message(err)}`);
        }
      }),
    );
    if (failures.length) throw RuleErrors.REGISTRY(`write rule "${id}" of ${url.path}`, failures.join('; '));
  }

  private async entries(iface?: string): Promise<URL[]> {
    const manager = this.registries();
    if (manager === null) return this.book.list(iface);
    const ifaces = iface !== undefined ? [iface] : [...new Set([...(await manager.services()), ...this.known()])];
    const found = new Map<string, URL>();
    const failures: string[] = [];
    await Promise.all(
      manager.registries.map(async (r) => {
        for (const i of ifaces) {
          try {
            for (const u of await read(r, i)) found.set(u.toString(), u);
          } catch (err) {
            failures.push(`${r.address}: ${message(err)}`);
            return;
          }
        }
      }),
    );
    if (failures.length === manager.registries.length && failures.length > 0) throw RuleErrors.REGISTRY('read the rules', failures.join('; '));
    if (failures.length) this.logger.warn(`rules listed without some registries: ${failures.join('; ')}`, { code: RuleErrors.REGISTRY.code });
    return [...found.values()];
  }
}

/** The `routers` and `configurators` entries of `iface` in one registry. */
async function read(r: ManagedRegistry, iface: string): Promise<URL[]> {
  const probe = new URL('consumer', '0.0.0.0', 0, iface, { category: 'routers,configurators', side: 'consumer' });
  const keep = (urls: URL[]) => urls.filter((u) => u.path === iface && isRuleCategory(categoryOf(u)));
  if (r.backend.lookup) return keep(await r.backend.lookup(probe));
  // A backend without lookup: its first notification is the current list.
  let listener: ((urls: URL[]) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const first = new Promise<URL[]>((resolve, reject) => {
      listener = resolve;
      timer = setTimeout(() => reject(new Error(`no list within ${READ_TIMEOUT} ms`)), READ_TIMEOUT);
    });
    await r.backend.subscribe(probe, listener!);
    return keep(await first);
  } finally {
    clearTimeout(timer);
    if (listener) await r.backend.unsubscribe(probe, listener).catch(() => undefined);
  }
}

function infoOf(url: URL): RuleInfo {
  const parsed = parseRuleEntry(url);
  const kind = url.protocol === 'override' ? 'override' : 'route';
  if (!parsed.ok) return { id: parsed.id, kind, interface: url.path, url: url.toString(), problem: `[${parsed.error.code}] ${parsed.error.message.split('\n')[0]}` };
  const e = parsed.entry;
  if (e.kind === 'route') return { id: e.id, kind, interface: e.iface, url: url.toString(), scope: e.scope, route: e.rule };
  return {
    id: e.id,
    kind,
    interface: e.iface,
    url: url.toString(),
    scope: e.scope,
    override: {
      address: e.address === '*' ? '0.0.0.0' : e.address,
      enabled: e.enabled,
      ...(e.weight !== undefined ? { weight: e.weight } : {}),
      ...(e.disabled !== undefined ? { disabled: e.disabled } : {}),
      service: { ...e.service },
      methods: { ...e.methods },
    },
  };
}

function checkSpec(spec: unknown, allowed: readonly string[], what: string): void {
  if (typeof spec !== 'object' || spec === null) throw RuleErrors.MALFORMED(what, 'give an object');
  const s = spec as Record<string, unknown>;
  if (typeof s.interface !== 'string' || s.interface.trim() === '') throw RuleErrors.MALFORMED(what, 'interface is missing');
  for (const k of Object.keys(s)) {
    if (allowed.includes(k) || s[k] === undefined) continue;
    const near = suggest(k, allowed);
    throw RuleErrors.MALFORMED(`${what} of ${s.interface}`, `unknown key "${k.slice(0, 80)}"${near ? ` (did you mean "${near}"?)` : ''}; allowed: ${allowed.join(', ')}`);
  }
}

/** The entry as consumers will read it: anything they would refuse is refused here, before writing. */
function checked(url: URL): URL {
  const parsed = parseRuleEntry(url);
  if (!parsed.ok) throw parsed.error;
  return url;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function put(params: Record<string, string>, key: string, value: unknown): void {
  if (value === undefined) return;
  params[key] = typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string' ? String(value) : JSON.stringify(value);
}

function scope(params: Record<string, string>, spec: RuleScopeSpec): void {
  for (const k of ['version', 'group', 'application'] as const) if (spec[k] !== undefined) params[k] = text(spec[k]);
}

function message(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

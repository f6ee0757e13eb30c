import type { Logger } from '../spi/logger';
import type { RouteRule } from '../spi/router';
import type { URL } from '../url/url';
import {
  addressMatches,
  entryId,
  parseRuleEntry,
  scopeMatches,
  specificity,
  type OverrideEntry,
  type RuleEntry,
  type SettingsPatch,
} from './rule-entries';

/** Call settings that overrides put over a reference's config: for the whole reference, and per method. */
export interface SettingsOverride {
  readonly service: Readonly<SettingsPatch>;
  readonly methods: Readonly<Record<string, Readonly<SettingsPatch>>>;
}

/** What an update changed, so the directory does only the work that follows from it. */
export interface RuleChanges {
  /** Weights or disabled flags of providers. */
  readonly providers: boolean;
  /** Timeout or retries of the reference or a method. */
  readonly settings: boolean;
  /** The routing rules of at least one router. */
  readonly routes: boolean;
}

/**
 * The dynamic rules in force for one reference: the latest valid entry of each rule id among the
 * `routers`/`configurators` entries listed for its interface (newest `timestamp` wins while an
 * old and a new version of one rule are both listed), limited to the entries whose scope (version,
 * group, application) is this reference's. A malformed entry is logged once with its code and
 * skipped; the entry of the same id that was in force before stays in force. Recomputed only when
 * the list of entries changes; scope: one per reference, event loop only.
 */
export class ReferenceRules {
  private inForce = new Map<string, RuleEntry>();
  /** Malformed entries already logged (by URL), forgotten once they are no longer listed. */
  private reported = new Set<string>();
  private providerOverrides: readonly OverrideEntry[] = [];
  private providersKey = '';
  private settingsKey = '';
  private routesKey = '';
  private routes_: ReadonlyMap<string, readonly RouteRule[]> = new Map();
  private settings_: SettingsOverride | undefined;

  constructor(
    private readonly consumer: URL,
    private readonly logger: Logger,
  ) {}

  /** Enabled routing rules by router name, each list in priority order (then id). */
  get routes(): ReadonlyMap<string, readonly RouteRule[]> {
    return this.routes_;
  }

  /** The timeout/retries overrides in force, or undefined when none. */
  get settings(): SettingsOverride | undefined {
    return this.settings_;
  }

  /** True when some override changes a provider's weight or takes it out. */
  get overridesProviders(): boolean {
    return this.providerOverrides.length > 0;
  }

  /** The rules now in force, by id. */
  entries(): readonly RuleEntry[] {
    return [...this.inForce.values()];
  }

  /** Takes the full list of rule entries now listed for the interface; returns what changed. */
  update(urls: readonly URL[]): RuleChanges {
    const newest = new Map<string, URL>();
    for (const url of urls) {
      if (url.path !== this.consumer.path) continue;
      const id = entryId(url);
      const seen = newest.get(id);
      if (seen === undefined || newer(url, seen)) newest.set(id, url);
    }
    const next = new Map<string, RuleEntry>();
    const listed = new Set<string>();
    for (const [id, url] of newest) {
      const key = url.toString();
      listed.add(key);
      const parsed = parseRuleEntry(url);
      if (parsed.ok) {
        if (scopeMatches(parsed.entry.scope, this.consumer)) next.set(id, parsed.entry);
        continue;
      }
      if (!this.reported.has(key)) {
        this.reported.add(key);
        this.logger.error(parsed.error.message, { code: parsed.error.code, reference: this.consumer.serviceKey, rule: id });
      }
      const previous = this.inForce.get(id);
      if (previous !== undefined) next.set(id, previous);
    }
    for (const key of this.reported) if (!listed.has(key)) this.reported.delete(key);
    this.inForce = next;
    return this.recompute();
  }

  /**
   * The provider URL as the overrides in force make it: `weight` replaced, or undefined when the
   * provider is disabled. The same object when nothing applies. More specific addresses apply
   * after less specific ones (0.0.0.0, then a host, then host:port), so they win.
   */
  applyTo(url: URL): URL | undefined {
    let weight: number | undefined;
    let disabled = false;
    for (const o of this.providerOverrides) {
      if (!addressMatches(o, url)) continue;
      if (o.weight !== undefined) weight = o.weight;
      if (o.disabled !== undefined) disabled = o.disabled;
    }
    if (disabled) return undefined;
    if (weight === undefined || url.params.weight === String(weight)) return url;
    return url.withParams({ weight });
  }

  private recompute(): RuleChanges {
    const overrides: OverrideEntry[] = [];
    const routes = new Map<string, RouteRule[]>();
    for (const e of this.inForce.values()) {
      if (e.kind === 'override') {
        if (e.enabled) overrides.push(e);
      } else if (e.rule.enabled) {
        let list = routes.get(e.rule.router);
        if (list === undefined) routes.set(e.rule.router, (list = []));
        list.push(e.rule);
      }
    }
    overrides.sort((a, b) => specificity(a) - specificity(b) || a.timestamp - b.timestamp || compare(a.id, b.id));
    for (const list of routes.values()) list.sort((a, b) => a.priority - b.priority || compare(a.id, b.id));

    const forProviders = overrides.filter((o) => o.weight !== undefined || o.disabled !== undefined);
    const providersKey = forProviders.map((o) => o.url.toString()).join('\n');
    const service: SettingsPatch = {};
    const methods: Record<string, SettingsPatch> = Object.create(null);
    for (const o of overrides) {
      Object.assign(service, o.service);
      for (const [m, patch] of Object.entries(o.methods)) methods[m] = { ...methods[m], ...patch };
    }
    const hasSettings = Object.keys(service).length > 0 || Object.keys(methods).length > 0;
    const settingsKey = hasSettings ? JSON.stringify([service, Object.entries(methods).sort()]) : '';
    const routesKey = JSON.stringify([...routes].sort(([a], [b]) => compare(a, b)));

    const changes: RuleChanges = {
      providers: providersKey !== this.providersKey,
      settings: settingsKey !== this.settingsKey,
      routes: routesKey !== this.routesKey,
    };
    this.providerOverrides = forProviders;
    this.providersKey = providersKey;
    this.settingsKey = settingsKey;
    this.settings_ = hasSettings ? Object.freeze({ service: Object.freeze(service), methods: Object.freeze(methods) }) : undefined;
    this.routesKey = routesKey;
    this.routes_ = routes;
    return changes;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `a` is a later version of a rule than `b`: a larger timestamp, ties broken by the text so every consumer picks the same. */
function newer(a: URL, b: URL): boolean {
  const ta = Number(a.params.timestamp) || 0;
  const tb = Number(b.params.timestamp) || 0;
  if (ta !== tb) return ta > tb;
  return a.toString() > b.toString();
}

import { PlexusError } from '../errors/plexus-error';
import type { Directory } from '../spi/directory';
import type { Invocation } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Logger } from '../spi/logger';
import type { RouteRule, Router } from '../spi/router';
import type { URL } from '../url/url';
import type { NodeAvailability } from './node-availability';
import { OverriddenInvoker } from './overridden-invoker';
import { ReferenceRules, type SettingsOverride } from './reference-rules';
import type { RuleSource } from './rule-book';
import { RuleErrors } from './rule-errors';

/** Applies routers in priority order; with none, returns the list itself (no allocation). */
export function route(routers: readonly Router[], invokers: readonly Invoker[], invocation: Invocation): readonly Invoker[] {
  let out = invokers;
  for (let i = 0; i < routers.length; i++) out = routers[i].route(out, invocation);
  return out;
}

/** What a directory needs to apply dynamic rules (registry `routers`/`configurators` entries, `app.rules`). */
export interface RuleContext {
  /** Where malformed and refused rules are reported (with their `PLEXUS_ERR_RULE_*` code). */
  readonly logger: Logger;
  /**
   * The router named `name` in the reference's scope — the instance the reference already uses
   * when it lists that router, else a new one — or undefined when no installed plugin provides it.
   */
  createRouter?(name: string): Router | undefined;
  /** Rules from the process itself (`registry: none`), for directories no registry feeds. */
  readonly source?: RuleSource;
}

function byPriority(a: Router, b: Router): number {
  return (a.priority ?? 0) - (b.priority ?? 0);
}

/**
 * What every directory shares: the current list, the nodes in rotation (suspended ones left out,
 * recomputed on change), routers told of every list change (`notify`) so they precompute, and
 * routing per call over the precomputed list. Dynamic rules are applied here too, on change only:
 * overrides of weight (the invoker seen through an {@link OverriddenInvoker}, same connection) and
 * disabled (left out of the list), timeout/retries handed to whoever watches the settings (the
 * reference runtime), and routing rules handed to the routers that take them (`setRules`), a
 * router named by a rule but not listed by the reference being created on demand.
 */
export abstract class AbstractDirectory implements Directory {
  private raw: readonly Invoker[] = [];
  private all_: readonly Invoker[] = [];
  private inRotation: readonly Invoker[] = [];
  private routers: readonly Router[];
  private readonly stopWatching?: () => void;
  private rules?: ReferenceRules;
  private readonly wrapped = new WeakMap<Invoker, OverriddenInvoker>();
  private readonly settingsListeners = new Set<(settings: SettingsOverride | undefined) => void>();
  /** Routers that received rules, by name, with the rules' key last accepted. */
  private readonly ruled = new Map<string, { router: Router; key: string }>();
  /** Router problems already reported (missing plugin, no setRules), so a notification does not repeat them. */
  private readonly warned = new Set<string>();

  constructor(
    readonly url: URL,
    routers: readonly Router[],
    private readonly availability?: NodeAvailability,
    protected readonly ruleContext?: RuleContext,
  ) {
    this.routers = [...routers].sort(byPriority);
    this.stopWatching = availability?.onChange(() => this.recompute());
  }

  /** Replaces the provider list (registry notification, or once for a static list). */
  protected setInvokers(invokers: readonly Invoker[]): void {
    this.raw = invokers;
    this.recompute();
  }

  /** The providers as given, before overrides: what the directory owns and destroys. */
  protected rawInvokers(): readonly Invoker[] {
    return this.raw;
  }

  list(invocation: Invocation): readonly Invoker[] {
    return this.routers.length ? route(this.routers, this.inRotation, invocation) : this.inRotation;
  }

  /** The providers with overrides applied (new weights; disabled ones left out), before routing. */
  all(): readonly Invoker[] {
    return this.all_;
  }

  isAvailable(): boolean {
    return this.inRotation.some((i) => (i.isAvailable ? i.isAvailable() : true));
  }

  suspended(): ReadonlyArray<{ address: string; reason: string }> {
    const a = this.availability;
    if (a === undefined || a.empty) return [];
    const out: Array<{ address: string; reason: string }> = [];
    for (const i of this.all_) {
      const s = a.suspensionOf(i.url.address);
      if (s !== undefined) out.push({ address: i.url.address, reason: s.reason });
    }
    return out;
  }

  /** The routers in the order they run (the reference's and those created for rules). */
  routerList(): readonly Router[] {
    return this.routers;
  }

  /**
   * Calls `listener` with the timeout/retries overrides now in force (at once when there are
   * some) and after every change; undefined when none is left. Returns the function that stops it.
   */
  watchSettings(listener: (settings: SettingsOverride | undefined) => void): () => void {
    this.settingsListeners.add(listener);
    if (this.rules?.settings !== undefined) listener(this.rules.settings);
    return () => this.settingsListeners.delete(listener);
  }

  /**
   * Takes the rule entries now listed for this reference's interface (all of them: an entry that
   * disappeared is a rule removed). Without a {@link RuleContext} rules are ignored.
   */
  applyRules(entries: readonly URL[]): void {
    const ctx = this.ruleContext;
    if (ctx === undefined) return;
    if (this.rules === undefined) {
      if (entries.length === 0) return;
      this.rules = new ReferenceRules(this.url, ctx.logger);
    }
    const changes = this.rules.update(entries);
    let recompute = changes.providers;
    if (changes.routes && this.deliverRoutes(ctx)) recompute = true;
    if (recompute) this.recompute();
    if (changes.settings) for (const l of this.settingsListeners) l(this.rules.settings);
  }

  async destroy(): Promise<void> {
    this.stopWatching?.();
    this.settingsListeners.clear();
    await this.release();
  }

  protected abstract release(): Promise<void>;

  /** Hands each router its rules; true when a router was added to the list. */
  private deliverRoutes(ctx: RuleContext): boolean {
    const routes = this.rules!.routes;
    const reference = this.url.serviceKey;
    let added = false;
    for (const [name, rules] of routes) {
      let known = this.ruled.get(name);
      if (known === undefined) {
        let router: Router | undefined;
        try {
          router = ctx.createRouter?.(name);
        } catch (err) {
          this.warnOnce(`create:${name}`, PlexusError.is(err) ? err : RuleErrors.ROUTER_MISSING(rules[0].id, name, reference), true);
          continue;
        }
        if (router === undefined) {
          this.warnOnce(`missing:${name}`, RuleErrors.ROUTER_MISSING(rules[0].id, name, reference));
          continue;
        }
        if (typeof router.setRules !== 'function') {
          this.warnOnce(`static:${name}`, RuleErrors.ROUTER_STATIC(name, reference));
          continue;
        }
        if (!this.routers.includes(router)) {
          router.notify?.(this.inRotation);
          this.routers = [...this.routers, router].sort(byPriority);
          added = true;
        }
        this.ruled.set(name, (known = { router, key: '' }));
      }
      this.offer(known, name, rules);
    }
    // Routers whose rules were all removed get an empty list.
    for (const [name, known] of this.ruled) if (!routes.has(name)) this.offer(known, name, []);
    for (const key of [...this.warned]) {
      const name = key.slice(key.indexOf(':') + 1);
      if (!routes.has(name)) this.warned.delete(key);
    }
    return added;
  }

  private offer(known: { router: Router; key: string }, name: string, rules: readonly RouteRule[]): void {
    const key = JSON.stringify(rules);
    if (key === known.key) return;
    try {
      known.router.setRules!(rules, this.url);
      known.key = key;
    } catch (err) {
      const cause = PlexusError.is(err) ? `[${err.code}] ${err.message}` : (err as Error)?.message ?? String(err);
      const e = RuleErrors.REJECTED(name, this.url.serviceKey, cause);
      this.ruleContext!.logger.error(e.message, { code: e.code, cause: PlexusError.is(err) ? err.code : undefined });
    }
  }

  private warnOnce(key: string, err: PlexusError, error = false): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    const log = this.ruleContext!.logger;
    (error ? log.error : log.warn).call(log, err.message, { code: err.code });
  }

  private recompute(): void {
    const rules = this.rules;
    let all = this.raw;
    if (rules !== undefined && rules.overridesProviders) {
      const out: Invoker[] = [];
      for (const inv of this.raw) {
        const url = rules.applyTo(inv.url);
        if (url === undefined) continue;
        if (url === inv.url) {
          out.push(inv);
          continue;
        }
        let w = this.wrapped.get(inv);
        if (w === undefined || w.url.toString() !== url.toString()) this.wrapped.set(inv, (w = new OverriddenInvoker(inv, url)));
        out.push(w);
      }
      all = out;
    }
    this.all_ = all;
    const a = this.availability;
    this.inRotation = a === undefined || a.empty ? all : all.filter((i) => a.suspensionOf(i.url.address) === undefined);
    for (const r of this.routers) r.notify?.(this.inRotation);
  }
}

/** A fixed list of providers: direct `url:` references and in-process (injvm) ones. */
export class StaticDirectory extends AbstractDirectory {
  private readonly stopRules?: () => void;

  constructor(url: URL, invokers: readonly Invoker[], routers: readonly Router[] = [], availability?: NodeAvailability, rules?: RuleContext) {
    super(url, routers, availability, rules);
    this.setInvokers(invokers);
    this.stopRules = rules?.source?.subscribe(url.path, (entries) => this.applyRules(entries));
  }

  protected async release(): Promise<void> {
    this.stopRules?.();
    await Promise.all(this.rawInvokers().map((i) => i.destroy?.()));
  }
}

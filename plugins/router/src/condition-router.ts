import { definePlugin, type Invocation, type Invoker, type Logger, type RouteRule, type Router, type URL } from '@plexus/kernel/spi';
import { CompiledCondition, parseCondition, type Condition } from './condition-rule';
import { RouterErrors } from './errors';
import { RouteCache } from './route-cache';

/** Runs after the tag router (100): a fallback to "the unrouted list" then means the tag's providers. */
export const CONDITION_ROUTER_PRIORITY = 200;

const NONE: readonly Invoker[] = Object.freeze([]);

/** One rule in force: its condition lines bound to the consumer. */
interface ActiveRule {
  readonly id: string;
  readonly force: boolean;
  readonly lines: readonly CompiledCondition[];
}

/** Options of `ConditionRouter`. */
export interface ConditionRouterOptions {
  /** Told (at debug level) when a rule that leaves no provider falls back. Default: silent. */
  logger?: Logger;
}

/**
 * Dubbo's condition routing: rules `[when] => [then]` (see `parseCondition`) arrive through
 * `setRules` (registry `routers` entries, `app.rules`) and apply in priority order, each to what
 * the one before left. A rule whose `when` matches the call keeps the providers its `then` admits;
 * when none is left, `force: false` falls back to the list the rule was given and `force: true`
 * returns it empty (the cluster reports no provider). A line with an empty `then` (a blacklist)
 * leaves no provider for the calls it matches whatever `force` says: that is what it was written for.
 *
 * Cost: the consumer's part of `when` is decided once per `setRules`; the answer for a method is
 * computed the first time that method is routed over a list and kept until the list or the rules
 * change, so a warm call is one map lookup and allocates nothing, at any number of providers.
 * Without rules it returns its input. Scope: one instance per reference; synchronous.
 */
export class ConditionRouter implements Router {
  readonly priority = CONDITION_ROUTER_PRIORITY;
  private rules: readonly ActiveRule[] = [];
  private readonly cache = new RouteCache<readonly Invoker[]>();
  private notified: readonly Invoker[] | undefined;
  private readonly logger?: Logger;

  constructor(options: ConditionRouterOptions = {}) {
    this.logger = options.logger;
  }

  notify(invokers: readonly Invoker[]): void {
    this.notified = invokers;
    this.cache.reset(invokers);
  }

  /**
   * Replaces the rules. Every rule is parsed first; a malformed one throws
   * `PLEXUS_ERR_ROUTER_CONDITION_SYNTAX` (a rule for another router `PLEXUS_ERR_ROUTER_WRONG_ROUTER`)
   * and the rules in force stay. Disabled rules are kept out; the order is `priority`, then as given.
   */
  setRules(rules: readonly RouteRule[], consumer: URL): void {
    const parsed: { rule: RouteRule; conditions: Condition[] }[] = [];
    for (const rule of rules) {
      if (rule.router !== 'condition') throw RouterErrors.WRONG_ROUTER(rule.id, rule.router, 'condition');
      const conditions = parseCondition(rule.id, rule.body);
      if (rule.enabled !== false) parsed.push({ rule, conditions });
    }
    const ordered = parsed.map((p, i) => ({ ...p, i })).sort((a, b) => (a.rule.priority ?? 0) - (b.rule.priority ?? 0) || a.i - b.i);
    this.rules = ordered.map(({ rule, conditions }) => ({
      id: rule.id,
      force: rule.force === true,
      lines: conditions.map((c) => new CompiledCondition(c, consumer)),
    }));
    this.cache.reset(this.notified);
  }

  route(invokers: readonly Invoker[], invocation: Invocation): readonly Invoker[] {
    if (this.rules.length === 0 || invokers.length === 0) return invokers;
    const method = invocation.method;
    const hit = this.cache.get(invokers, method);
    if (hit !== undefined) return hit;
    const out = this.compute(invokers, method);
    this.cache.set(invokers, method, out);
    return out;
  }

  /** The ids of the rules in force, in the order they apply. */
  ruleIds(): string[] {
    return this.rules.map((r) => r.id);
  }

  private compute(invokers: readonly Invoker[], method: string): readonly Invoker[] {
    let current = invokers;
    for (const rule of this.rules) {
      let out = current;
      let blocked = false;
      for (const line of rule.lines) {
        if (!line.appliesTo(method)) continue;
        if (line.blocks) blocked = true;
        out = line.blocks ? NONE : filter(out, line);
      }
      // An empty then side says "no provider" on purpose: force or not, it is not undone.
      if (out.length === 0 && current.length > 0 && !rule.force && !blocked) {
        this.logger?.debug(`condition rule "${rule.id}" leaves no provider for ${method}; it is not forced, so the call uses the ${current.length} providers it had`, {
          rule: rule.id,
          method,
        });
        continue;
      }
      current = out;
    }
    return current;
  }
}

function filter(invokers: readonly Invoker[], line: CompiledCondition): readonly Invoker[] {
  const out: Invoker[] = [];
  for (const inv of invokers) if (line.admits(inv.url)) out.push(inv);
  // Nothing filtered out: keep the list given, one array fewer to hold.
  return out.length === invokers.length ? invokers : out;
}

export default definePlugin({
  name: '@plexus/router',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'router',
      name: 'condition',
      optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
      create: (ctx) => new ConditionRouter({ logger: ctx.logger }),
    },
  ],
});

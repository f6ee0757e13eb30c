import type { URL } from '../url/url';
import type { Invocation } from './invocation';
import type { Invoker } from './invoker';

export const ROUTER = Symbol.for('plexus.router');

/**
 * Narrows the providers a call may use (conditions, tags). Scope: per reference; synchronous, no
 * I/O. Routers run in order of `priority` (lower first). Returning an empty list means "no
 * provider". `route` runs per call and must be cheap: work that depends only on the provider list
 * belongs in `notify`, which the directory calls whenever that list changes (registry update, a
 * node suspended or restored).
 */
export interface Router {
  readonly priority?: number;
  /** The providers in rotation changed: precompute here, not in `route`. */
  notify?(invokers: readonly Invoker[]): void;
  route(invokers: readonly Invoker[], invocation: Invocation): readonly Invoker[];
  /**
   * Optional: the dynamic rules for this router now in force for one reference (from the registry's
   * `routers` entries or `app.rules`), in priority order; an empty list removes them. Validate every
   * rule before applying any: on a malformed rule throw a coded error (`PlexusError`) — the
   * directory logs it and the previous rules stay in force. `consumer` is the reference's URL
   * (its host and application are what `consumer.*` conditions match).
   */
  setRules?(rules: readonly RouteRule[], consumer: URL): void;
}

/** One routing rule as an operator wrote it; each router parses its own `body`. */
export interface RouteRule {
  /** Identifies the rule for updates and removal (the registry entry, or the id given to `app.rules`). */
  readonly id: string;
  /** The router that reads it: `condition`, `tag`, or a plugin's name. */
  readonly router: string;
  /** The rule text (a condition such as `method = find* => provider.region = hz`, a tag rule, ...). */
  readonly body: string;
  /** Lower applies first. Default 0. */
  readonly priority: number;
  /** When routing leaves no provider: true = fail the call, false = fall back to the unrouted list. */
  readonly force: boolean;
  /** False keeps the rule stored but not applied. */
  readonly enabled: boolean;
}

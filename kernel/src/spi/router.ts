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
}

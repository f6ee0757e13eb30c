import type { Invocation } from './invocation';
import type { Invoker } from './invoker';

export const LOADBALANCE = Symbol.for('plexus.loadbalance');
export const DEFAULT_LOADBALANCE = 'random';
/** A provider's weight when its URL gives none. */
export const DEFAULT_WEIGHT = 100;
/** Time over which a new provider ramps up to its full weight, ms: 10 minutes (Dubbo's). */
export const DEFAULT_WARMUP = 10 * 60 * 1000;

/**
 * Picks one provider for a call. Scope: one instance per reference (state such as round-robin
 * counters is kept per method inside it). Synchronous, no I/O. Called with at least one invoker.
 * Weights come from `invoker.url` param `weight` (default 100) adjusted by warmup: see `invokerWeight`.
 */
export interface LoadBalance {
  select(invokers: readonly Invoker[], invocation: Invocation): Invoker;
  /**
   * Optional: a balancer that weighs in-flight calls or latency (leastactive, shortestresponse,
   * p2c) keeps its own per-node counters. Every cluster calls `started` right before an attempt on
   * the chosen invoker and `finished` exactly once when that attempt settles (elapsed ms, whether it
   * failed). Balancers without these methods cost the cluster nothing.
   */
  started?(invoker: Invoker, invocation: Invocation): void;
  finished?(invoker: Invoker, invocation: Invocation, elapsedMs: number, failed: boolean): void;
}

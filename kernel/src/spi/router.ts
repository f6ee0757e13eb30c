import type { Invocation } from './invocation';
import type { Invoker } from './invoker';

export const ROUTER = Symbol.for('plexus.router');

/**
 * Narrows the providers a call may use (conditions, tags). Scope: per reference; synchronous, no I/O.
 * Routers run in order of `priority` (lower first). Returning an empty list means "no provider".
 */
export interface Router {
  readonly priority?: number;
  route(invokers: readonly Invoker[], invocation: Invocation): readonly Invoker[];
}

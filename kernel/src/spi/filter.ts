import type { Invocation } from './invocation';
import type { Invoker } from './invoker';
import type { Result } from './result';

export const FILTER = Symbol.for('plexus.filter');

/**
 * A cross-cutting step around a call. Scope: one instance per reference or service chain, built
 * once; called concurrently. A filter calls `next.invoke(invocation)` (or does not, to short-cut).
 * Activation (side and order) is declared on the extension, see `ExtensionDefinition.activate`.
 */
export interface Filter {
  invoke(next: Invoker, invocation: Invocation): Promise<Result>;
}

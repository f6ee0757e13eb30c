import type { URL } from '../url/url';
import type { Invocation } from './invocation';
import type { Invoker } from './invoker';

/**
 * The live list of providers of one reference. Static (direct `url:`) or fed by a registry.
 * Scope: per reference. `list` applies the routers and must be cheap: it is called per call.
 */
export interface Directory {
  /** The consumer's URL: its parameters are the reference's effective config. */
  readonly url: URL;
  list(invocation: Invocation): readonly Invoker[];
  /** All providers before routing. */
  all(): readonly Invoker[];
  isAvailable(): boolean;
  /**
   * Optional: the providers listed but taken out of rotation (a circuit breaker, a health check),
   * with why — what a NO_PROVIDER error should mention when they are the reason the list is empty.
   */
  suspended?(): ReadonlyArray<{ readonly address: string; readonly reason: string }>;
  destroy(): Promise<void>;
}

import type { Invocation } from './invocation';
import type { Result } from './result';

export const EXECUTOR = Symbol.for('plexus.executor');
export const DEFAULT_EXECUTOR = 'direct';

/**
 * Decides where and when provider work runs. Scope: one instance per exported service.
 * `execute` either runs `task` (now, later) or rejects with `EXECUTOR_EXHAUSTED`.
 */
export interface Executor {
  execute(invocation: Invocation, task: (invocation: Invocation) => Promise<Result>): Promise<Result>;
  /** Calls running now. */
  readonly active: number;
  /** Resolves when no call is running, or after `timeoutMs`. */
  drain?(timeoutMs: number): Promise<void>;
  close?(): Promise<void>;
}

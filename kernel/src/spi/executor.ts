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
  /**
   * Optional, for executors that run every call at once on the event loop (`direct`): the kernel
   * may then run the implementation itself, without `execute` — and without any promise when the
   * method returns synchronously — telling the executor each call's start (`enter`) and end
   * (`leave`, exactly once) so `active` and `drain` stay right. Offered only where `execute` would
   * do nothing else.
   */
  readonly inline?: { enter(): void; leave(): void };
  /** Resolves when no call is running, or after `timeoutMs`. */
  drain?(timeoutMs: number): Promise<void>;
  close?(): Promise<void>;
}

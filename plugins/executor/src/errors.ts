import { defineError, RpcCode, RpcError } from '@plexus/kernel/spi';

/** The `reason` on the RpcError an executor rejects with when it has no room. */
export const EXHAUSTED_REASON = 'PLEXUS_ERR_EXECUTOR_EXHAUSTED';
/** The `reason` on the RpcError for a call lost because a worker failed to load or died. */
export const WORKER_FAILED_REASON = 'PLEXUS_ERR_EXECUTOR_WORKER_FAILED';
/** The `reason` on the SERVER_TIMEOUT for a call whose deadline passed while it waited. */
export const QUEUE_TIMEOUT_REASON = 'PLEXUS_ERR_EXECUTOR_QUEUE_TIMEOUT';
/** The `reason` on the RpcError for arguments or results a worker cannot exchange. */
export const NOT_CLONEABLE_REASON = 'PLEXUS_ERR_EXECUTOR_NOT_CLONEABLE';

/** Framework errors of the executors, raised when one is created. */
export const ExecutorErrors = {
  OPTIONS: defineError(
    'PLEXUS_ERR_EXECUTOR_OPTIONS',
    (executor: string, key: string, value: unknown, expected: string) =>
      `executor "${executor}": option ${key} is ${JSON.stringify(value)}, expected ${expected}`,
    'Fix the option under the provider or service config (e.g. `threads: 200`, `queues: 0`).',
  ),
  NO_IMPLEMENTATION: defineError(
    'PLEXUS_ERR_EXECUTOR_NO_IMPLEMENTATION',
    () => 'the worker executor needs `implementation:` as a module path, and none was given',
    'Give the service an `implementation: ./path/to/service.js` in plexus.yaml (a CommonJS module exporting the object or class); an object passed to app.provide() cannot be moved into a worker thread.',
  ),
  IMPLEMENTATION_NOT_FOUND: defineError(
    'PLEXUS_ERR_EXECUTOR_IMPLEMENTATION_NOT_FOUND',
    (path: string, cause: string) => `the worker executor cannot find the implementation module "${path}": ${cause}`,
    'Check the `implementation:` path (absolute, or relative to the config file) and that the module is built to JavaScript.',
  ),
  WORKER_SCRIPT: defineError(
    'PLEXUS_ERR_EXECUTOR_WORKER_SCRIPT',
    (path: string) => `the worker executor's thread script is missing at ${path}`,
    'Reinstall @plexus/executor, or build it (npx tsc -b plugins/executor) when working from sources.',
  ),
} as const;

/** The retryable rejection for a call an executor has no room for. */
export function exhaustedError(executor: string, running: number, waiting: number): RpcError {
  return new RpcError(
    `executor "${executor}" is full: ${running} calls running and ${waiting} waiting` +
      '\n  hint: raise `threads` or `queues` for this service, add providers, or slow the callers down; the consumer may retry on another provider.',
    RpcCode.EXECUTOR_EXHAUSTED,
    { retryable: true, reason: EXHAUSTED_REASON },
  );
}

/** The rejection for calls refused or cut short because the executor is closing. */
export function shuttingDownError(executor: string): RpcError {
  return new RpcError(`executor "${executor}" is closed: the provider is shutting down`, RpcCode.SHUTTING_DOWN, { retryable: true });
}

/** Reads a whole-number option, accepting numeric strings as config files and env vars give them. */
export function integerOption(executor: string, key: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    throw ExecutorErrors.OPTIONS(executor, key, value, `a whole number >= ${min}`);
  }
  return n;
}

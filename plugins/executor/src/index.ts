/** `@plexus/executor` — where provider work runs: `direct`, `limited`, `worker`. */
export { DirectExecutor } from './direct-executor';
export { LimitedExecutor, type LimitedExecutorOptions } from './limited-executor';
export { WorkerExecutor, type WorkerExecutorOptions } from './worker-executor';
export { ExecutorErrors, EXHAUSTED_REASON, WORKER_FAILED_REASON, NOT_CLONEABLE_REASON, QUEUE_TIMEOUT_REASON } from './errors';

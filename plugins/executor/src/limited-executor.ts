import { AsyncResource } from 'node:async_hooks';
import { definePlugin, RpcCode, RpcError, type Executor, type Invocation, type Result } from '@plexus/kernel/spi';
import { ActiveCalls } from './active-calls';
import { exhaustedError, integerOption, QUEUE_TIMEOUT_REASON, shuttingDownError } from './errors';

/** Options of `LimitedExecutor`. */
export interface LimitedExecutorOptions {
  /**
   * Calls that may run at once. Default 200, Dubbo's provider `threads` default: high enough not to
   * throttle I/O-bound services, low enough to shed load before memory and latency run away.
   */
  threads?: number;
  /**
   * Calls that may wait for a free slot. Default 0: a full provider refuses at once with the
   * retryable `EXECUTOR_EXHAUSTED`, so failover can try a less busy provider instead of queueing
   * behind this one (Dubbo's fixed pool does the same).
   */
  queues?: number;
}

type Task = (invocation: Invocation) => Promise<Result>;

interface Waiting {
  invocation: Invocation;
  task: Task;
  resolve: (result: Result) => void;
  reject: (err: unknown) => void;
}

/** Compact the queue array once this many slots at its head are spent. */
const COMPACT_AT = 1024;

/**
 * Bounds how many calls of a service run at once (`threads`) and how many may wait (`queues`);
 * anything beyond is rejected with `EXECUTOR_EXHAUSTED` (retryable elsewhere). Waiting calls run
 * in arrival order; one whose deadline passed while it waited is answered `SERVER_TIMEOUT`
 * instead of being run. Scope: one instance per exported service; main thread only. A call that
 * runs at once allocates only the promise that tracks completion.
 */
export class LimitedExecutor implements Executor {
  readonly threads: number;
  readonly queues: number;
  private running = 0;
  private readonly queue: Array<Waiting | undefined> = [];
  private head = 0;
  private closed = false;
  /** Running and waiting calls, for `drain`. */
  private readonly admitted = new ActiveCalls();
  private readonly settle = (result: Result): Result => {
    this.finish();
    return result;
  };
  private readonly fail = (err: unknown): never => {
    this.finish();
    throw err;
  };

  constructor(options: LimitedExecutorOptions = {}) {
    this.threads = integerOption('limited', 'threads', options.threads, 200, 1);
    this.queues = integerOption('limited', 'queues', options.queues, 0, 0);
  }

  /** Calls running now (not counting those waiting). */
  get active(): number {
    return this.running;
  }

  /** Calls waiting for a free slot. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  execute(invocation: Invocation, task: Task): Promise<Result> {
    if (this.closed) return Promise.reject(shuttingDownError('limited'));
    if (this.running < this.threads) {
      this.admitted.enter();
      return this.start(invocation, task);
    }
    if (this.waiting < this.queues) {
      this.admitted.enter();
      return new Promise<Result>((resolve, reject) => {
        // Bound to this call's async context: a queued call starts from whichever call finished,
        // and must not run in that call's context (AsyncLocalStorage users: Plexus.context, OTel).
        this.queue.push({ invocation, task: AsyncResource.bind(task), resolve, reject });
      });
    }
    return Promise.reject(exhaustedError('limited', this.running, this.waiting));
  }

  /** Resolves when no call is running or waiting, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    return this.admitted.drain(timeoutMs);
  }

  /** Refuses new calls and answers waiting ones `SHUTTING_DOWN`; running calls finish. */
  async close(): Promise<void> {
    this.closed = true;
    for (let next = this.shift(); next !== undefined; next = this.shift()) {
      next.reject(shuttingDownError('limited'));
      this.admitted.leave();
    }
  }

  private start(invocation: Invocation, task: Task): Promise<Result> {
    this.running++;
    let result: Promise<Result>;
    try {
      result = task(invocation);
    } catch (err) {
      this.finish();
      return Promise.reject(err);
    }
    return result.then(this.settle, this.fail);
  }

  private finish(): void {
    this.running--;
    while (this.running < this.threads) {
      const next = this.shift();
      if (next === undefined) break;
      const deadline = next.invocation.deadline;
      if (deadline > 0 && Date.now() >= deadline) {
        next.reject(
          new RpcError(`the call waited in executor "limited" until its deadline passed`, RpcCode.SERVER_TIMEOUT, {
            reason: QUEUE_TIMEOUT_REASON,
          }),
        );
        this.admitted.leave();
        continue;
      }
      this.start(next.invocation, next.task).then(next.resolve, next.reject);
    }
    this.admitted.leave();
  }

  private shift(): Waiting | undefined {
    if (this.head >= this.queue.length) return undefined;
    const next = this.queue[this.head];
    this.queue[this.head++] = undefined;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return next;
  }
}

const schema = {
  type: 'object',
  properties: {
    threads: { type: 'integer', minimum: 1 },
    queues: { type: 'integer', minimum: 0 },
  },
};

export default definePlugin({
  name: '@plexus/executor',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'executor',
      name: 'limited',
      optionsSchema: schema,
      create: (ctx) => new LimitedExecutor({ threads: ctx.options.threads as number | undefined, queues: ctx.options.queues as number | undefined }),
    },
  ],
});

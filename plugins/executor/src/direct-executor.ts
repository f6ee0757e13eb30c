import { definePlugin, type Executor, type Invocation, type Result } from '@plexus/kernel/spi';
import { ActiveCalls } from './active-calls';

/**
 * Runs each call at once on the event loop (the default). Right for implementations that do I/O
 * and little computation; there is no limit, so pair it with the `executes` filter or use
 * `limited` to bound concurrency. Scope: one instance per exported service. Per call it allocates
 * only the promise that tracks completion.
 */
export class DirectExecutor implements Executor {
  private readonly calls = new ActiveCalls();
  private readonly settle = (result: Result): Result => {
    this.calls.leave();
    return result;
  };
  private readonly fail = (err: unknown): never => {
    this.calls.leave();
    throw err;
  };

  get active(): number {
    return this.calls.count;
  }

  /** Running a call here is only running it now: the kernel may do that itself and report in. */
  get inline(): ActiveCalls {
    return this.calls;
  }

  execute(invocation: Invocation, task: (invocation: Invocation) => Promise<Result>): Promise<Result> {
    this.calls.enter();
    let running: Promise<Result>;
    try {
      running = task(invocation);
    } catch (err) {
      this.calls.leave();
      return Promise.reject(err);
    }
    return running.then(this.settle, this.fail);
  }

  drain(timeoutMs: number): Promise<void> {
    return this.calls.drain(timeoutMs);
  }

  async close(): Promise<void> {
    // Nothing to release: calls run on the caller's event loop.
  }
}

export default definePlugin({
  name: '@plexus/executor',
  kernel: '^0.1.0',
  extensions: [{ point: 'executor', name: 'direct', create: () => new DirectExecutor() }],
});

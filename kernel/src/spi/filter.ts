import { performance } from 'node:perf_hooks';
import type { Invocation } from './invocation';
import type { Invoker } from './invoker';
import type { Result } from './result';
import type { URL } from '../url/url';

export const FILTER = Symbol.for('plexus.filter');

/**
 * A cross-cutting step around a call. Scope: one instance per reference or service chain, built
 * once; called concurrently. A filter calls `next.invoke(invocation)` (or does not, to short-cut).
 * Activation (side and order) is declared on the extension, see `ExtensionDefinition.activate`.
 */
export interface Filter {
  invoke(next: Invoker, invocation: Invocation): Promise<Result>;
  /**
   * The same filter in callback form, for filters that only observe calls or refuse them before
   * they run (metrics, rate and concurrency limits, token checks) — never for one that changes the
   * result or the context the method runs in. When every filter of a provider service has one,
   * the kernel runs them around the method with no promise per filter, and answers a synchronous
   * method with no promise at all. The kernel uses interceptors on the provider side only (consumer
   * chains call `invoke`); there it must behave exactly as `invoke` does (`invokeIntercepted`
   * writes `invoke` from it).
   */
  readonly interceptor?: CallInterceptor;
}

/** A filter's callback form (`Filter.interceptor`). Scope: as its filter; called concurrently. */
export interface CallInterceptor {
  /**
   * Before the call runs, in filter order. Throwing (or rejecting) refuses the call with that
   * error: later interceptors and the method do not run, earlier ones hear `after` with it. May
   * return a promise when it cannot decide at once (a shared limit asking a server). `url` is the
   * service's exported URL (what `next.url` is to the filter's `invoke`).
   */
  before(invocation: Invocation, url: URL): void | Promise<void>;
  /**
   * Optional: runs the call's next step through `proceed` — to make a context active around the
   * method and everything it awaits (a tracing span). Must call `proceed` once, synchronously, and
   * return what it returns. Interceptors nest: the first is outermost.
   */
  around?(invocation: Invocation, proceed: () => unknown): unknown;
  /**
   * Once the call ended, in reverse order: `error` is undefined on success, else what the caller
   * gets (a business error is a coded SERVICE_ERROR). `elapsedMs`: since the first `before`.
   */
  after(invocation: Invocation, error: unknown, elapsedMs: number): void;
}

class Interception {
  constructor(
    private readonly interceptor: CallInterceptor,
    private readonly invocation: Invocation,
    private readonly started: number,
  ) {}

  /** The rest of the chain (inside `around`, when the interceptor has one), then `after` with its outcome. */
  run(next: Invoker): Promise<Result> {
    let running: Promise<Result>;
    try {
      const around = this.interceptor.around;
      running =
        around === undefined
          ? next.invoke(this.invocation)
          : (around.call(this.interceptor, this.invocation, () => next.invoke(this.invocation)) as Promise<Result>);
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then(this.ok, this.fail);
  }

  readonly ok = (result: Result): Result => {
    this.interceptor.after(this.invocation, undefined, performance.now() - this.started);
    return result;
  };

  readonly fail = (err: unknown): never => {
    this.interceptor.after(this.invocation, err, performance.now() - this.started);
    throw err;
  };
}

/** `Filter.invoke` from the filter's interceptor: before, the rest of the chain, after. */
export function invokeIntercepted(interceptor: CallInterceptor, next: Invoker, invocation: Invocation): Promise<Result> {
  const started = performance.now();
  let admitted: void | Promise<void>;
  try {
    admitted = interceptor.before(invocation, next.url);
  } catch (err) {
    return Promise.reject(err);
  }
  const end = new Interception(interceptor, invocation, started);
  // Refused by its own before: this interceptor hears no after (the chain's earlier ones do).
  if (admitted !== undefined) return admitted.then(() => end.run(next));
  return end.run(next);
}

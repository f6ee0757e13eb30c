import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';

/** Completions between turns of the event loop (see runLoad). */
const YIELD_EVERY = 2000;

/** One measurement's plan. */
export interface LoadPlan {
  /** Calls kept in flight. */
  concurrency: number;
  /** Calls before this long are not measured (connections, JIT), ms. */
  warmupMs: number;
  /** The measured window, ms. */
  durationMs: number;
  /** Longest wait for calls still in flight when the window closes, ms. */
  drainMs: number;
  /** Latencies above this are counted at this value, ms (the histogram is sized once from it). */
  maxLatencyMs: number;
  /** Called every `tickMs` with the calls counted so far in the window (never per call). */
  onTick?: (progress: { elapsedMs: number; calls: number; errors: number }) => void;
  tickMs?: number;
}

/** What a measurement found. */
export interface LoadResult {
  calls: number;
  errors: number;
  firstError?: unknown;
  elapsedMs: number;
  /** Completed calls per second in the window. */
  rate: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Calls still in flight when the drain gave up. */
  stuck: number;
  /** CPU time (user + system) of this process in the window per completed call, µs: what the caller side costs. */
  cpuMicrosPerCall: number;
}

/**
 * Keeps `concurrency` calls in flight, each caller issuing its next call when the previous one
 * settles; measures only the window after the warmup. Nothing here allocates per call beyond what
 * `call()` itself does: latencies go into an HDR histogram sized once (microseconds, 3 significant
 * digits, no resizing), counters are plain numbers, and progress is read on a timer.
 */
export function runLoad(call: () => Promise<unknown>, plan: LoadPlan): Promise<LoadResult> {
  const maxMicros = Math.max(2, Math.ceil(plan.maxLatencyMs * 1000));
  const histogram = hdr.build({ bitBucketSize: 32, autoResize: false, lowestDiscernibleValue: 1, highestTrackableValue: maxMicros, numberOfSignificantValueDigits: 3 });
  return new Promise((resolve) => {
    let measuring = false;
    let stopping = false;
    let calls = 0;
    let errors = 0;
    let firstError: unknown;
    let inFlight = 0;
    let windowStart = 0;
    let windowEnd = 0;
    let cpuStart = process.cpuUsage();
    let cpuMicros = 0;
    let ticker: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let done = false;
    // Calls that settle without I/O (a failing reference answers NO_PROVIDER at once) chain through
    // microtasks only and would starve the window's timers; every YIELD_EVERY completions the
    // callers take one turn of the event loop.
    let sinceYield = 0;
    let yielding = false;
    const endYield = () => {
      yielding = false;
      sinceYield = 0;
    };

    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(ticker);
      clearTimeout(drainTimer);
      const elapsedMs = windowEnd - windowStart;
      const any = histogram.totalCount > 0;
      const max = any ? histogram.maxValue / 1000 : 0;
      // HDR answers a bucket's upper edge; no percentile is above the largest value recorded.
      const at = (p: number) => (any ? Math.min(histogram.getValueAtPercentile(p) / 1000, max) : 0);
      resolve({
        calls,
        errors,
        firstError,
        elapsedMs,
        rate: elapsedMs > 0 ? (calls * 1000) / elapsedMs : 0,
        latencyMs: { p50: at(50), p90: at(90), p99: at(99), max, mean: any ? histogram.mean / 1000 : 0 },
        stuck: inFlight,
        cpuMicrosPerCall: calls > 0 ? cpuMicros / calls : 0,
      });
    };

    const caller = () => {
      let t0 = 0;
      const settle = (failed: boolean, err?: unknown) => {
        inFlight--;
        if (measuring) {
          if (failed) {
            errors++;
            if (firstError === undefined) firstError = err;
          } else {
            calls++;
            const micros = Math.round((performance.now() - t0) * 1000);
            histogram.recordValue(micros < 1 ? 1 : micros > maxMicros ? maxMicros : micros);
          }
        } else if (failed && firstError === undefined) firstError = err;
        if (stopping) {
          if (inFlight === 0) finish();
          return;
        }
        if (!yielding && ++sinceYield >= YIELD_EVERY) {
          yielding = true;
          setImmediate(endYield);
        }
        if (yielding) setImmediate(issue);
        else issue();
      };
      const ok = () => settle(false);
      const fail = (err: unknown) => settle(true, err);
      const issue = () => {
        inFlight++;
        t0 = performance.now();
        let pending: Promise<unknown>;
        try {
          pending = call();
        } catch (err) {
          pending = Promise.reject(err);
        }
        pending.then(ok, fail);
      };
      issue();
    };

    for (let i = 0; i < plan.concurrency; i++) caller();

    setTimeout(() => {
      measuring = true;
      cpuStart = process.cpuUsage();
      windowStart = performance.now();
      if (plan.onTick) {
        const tick = plan.onTick;
        ticker = setInterval(() => tick({ elapsedMs: performance.now() - windowStart, calls, errors }), plan.tickMs ?? 200);
      }
      setTimeout(() => {
        windowEnd = performance.now();
        const cpu = process.cpuUsage(cpuStart);
        cpuMicros = cpu.user + cpu.system;
        measuring = false;
        stopping = true;
        clearInterval(ticker);
        plan.onTick?.({ elapsedMs: windowEnd - windowStart, calls, errors });
        if (inFlight === 0) finish();
        else drainTimer = setTimeout(finish, plan.drainMs);
      }, plan.durationMs);
    }, plan.warmupMs);
  });
}

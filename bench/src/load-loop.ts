/**
 * The client-side load loop every peer shares: `concurrency` independent callers, each issuing
 * its next call as soon as the previous one completes, first for a warmup and then for a
 * measured window. Callback-driven so the loop itself adds no promise or closure per call.
 */
import { performance } from 'node:perf_hooks';
import type { CpuTime } from './ipc';
import { LatencyHistogram, type LatencySummary } from './stats';

/** Completion callback of one call: no argument on success, the error otherwise. */
export type Done = (err?: unknown) => void;

/**
 * Creates one caller. It receives that caller's `done` once and returns the function that
 * issues one call; the call must complete by invoking `done` exactly once, never synchronously.
 */
export type CallerFactory = (done: Done) => () => void;

/** Timing of one measurement. */
export interface LoadPlan {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Called when the measured window opens (after warmup). */
  onWindowStart?: () => void;
  /** Called when the measured window closes (before the drain). */
  onWindowEnd?: () => void;
  /** Longest wait for outstanding calls after the window (default 10 s). */
  drainTimeoutMs?: number;
}

/** What one measurement produced in this process. */
export interface LoadOutcome {
  calls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  latency: LatencySummary;
  cpu: CpuTime;
  stuck: number;
}

const WARMUP = 0;
const MEASURE = 1;
const DRAIN = 2;

/** Runs one warmup + measured window with `plan.concurrency` callers. */
export function runLoad(createCaller: CallerFactory, plan: LoadPlan): Promise<LoadOutcome> {
  return new Promise((resolve) => {
    const hist = new LatencyHistogram();
    let phase = WARMUP;
    let calls = 0;
    let errors = 0;
    let firstError: string | undefined;
    let active = plan.concurrency;
    let windowStart = 0;
    let windowEnd = 0;
    let cpuStart = process.cpuUsage();
    let cpu: CpuTime = { user: 0, system: 0 };
    let finished = false;

    const finish = (stuck: number) => {
      if (finished) return;
      finished = true;
      clearTimeout(drainTimer);
      resolve({ calls, errors, firstError, elapsedMs: windowEnd - windowStart, latency: hist.summary(), cpu, stuck });
    };
    let drainTimer: NodeJS.Timeout | undefined;

    const startCaller = () => {
      let t0 = 0;
      const done: Done = (err) => {
        const now = performance.now();
        if (phase === MEASURE) {
          if (err === undefined) {
            calls++;
            hist.record(now - t0);
          } else {
            errors++;
            firstError ??= describe(err);
          }
        } else if (err !== undefined) {
          firstError ??= describe(err);
        }
        if (phase === DRAIN) {
          if (--active === 0) finish(0);
          return;
        }
        t0 = now;
        issue();
      };
      const issue = createCaller(done);
      t0 = performance.now();
      issue();
    };

    for (let i = 0; i < plan.concurrency; i++) startCaller();

    setTimeout(() => {
      phase = MEASURE;
      plan.onWindowStart?.();
      cpuStart = process.cpuUsage();
      windowStart = performance.now();
      setTimeout(() => {
        windowEnd = performance.now();
        const used = process.cpuUsage(cpuStart);
        cpu = { user: used.user, system: used.system };
        phase = DRAIN;
        plan.onWindowEnd?.();
        drainTimer = setTimeout(() => finish(active), plan.drainTimeoutMs ?? 10_000);
      }, plan.durationMs);
    }, plan.warmupMs);
  });
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

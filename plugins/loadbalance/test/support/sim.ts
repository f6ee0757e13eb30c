import type { Invocation, Invoker, LoadBalance } from '@plexus/kernel/spi';
import { FakeInvoker } from '@plexus/kernel/testing';

/** A seeded uniform generator in [0, 1) (mulberry32): distribution tests are the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many times each invoker was picked in `samples` selects. */
export function tally(lb: LoadBalance, invokers: readonly Invoker[], invocation: Invocation, samples: number): number[] {
  const counts = invokers.map(() => 0);
  for (let i = 0; i < samples; i++) counts[invokers.indexOf(lb.select(invokers, invocation))]++;
  return counts;
}

/** A provider whose start time is `uptimeMs` ago with a warmup of `warmupMs`, weight 100 unless told. */
export function warmingProvider(host: string, uptimeMs: number, warmupMs: number, now: number, weight = 100): FakeInvoker {
  return new FakeInvoker(`plexus://${host}:20880/demo.Greeter?weight=${weight}&timestamp=${now - uptimeMs}&warmup=${warmupMs}`);
}

/**
 * Calls made the way a cluster makes them — select, `started`, invoke, `finished` when the promise
 * settles — against fake providers that answer after a number of ticks of a fake clock. Nothing
 * here reads the real clock: `tick()` settles what is due and lets the promise callbacks run.
 */
export class TickCluster {
  tickNow = 0;
  private readonly due: Array<{ at: number; settle: () => void }> = [];

  constructor(
    private readonly lb: LoadBalance,
    private readonly invocation: Invocation,
  ) {}

  /** A provider at 10.0.0.<n> answering after `ticks` ticks (weight 100). */
  provider(n: number, ticks: number): FakeInvoker {
    return new FakeInvoker(`plexus://10.0.0.${n}:20880/demo.Greeter?weight=100`, {
      handler: () =>
        new Promise((resolve) => {
          this.due.push({ at: this.tickNow + ticks, settle: () => resolve({ value: n }) });
        }),
    });
  }

  /** One call as the cluster makes it; returns the provider chosen. */
  call<T extends Invoker>(invokers: readonly T[]): T {
    const chosen = this.lb.select(invokers, this.invocation) as T;
    const startedAt = this.tickNow;
    this.lb.started?.(chosen, this.invocation);
    void chosen.invoke(this.invocation).then(
      () => this.lb.finished?.(chosen, this.invocation, this.tickNow - startedAt, false),
      () => this.lb.finished?.(chosen, this.invocation, this.tickNow - startedAt, true),
    );
    return chosen;
  }

  /** Advances one tick: answers what is due and waits for their callbacks. */
  async tick(): Promise<void> {
    this.tickNow++;
    for (let i = this.due.length - 1; i >= 0; i--) {
      if (this.due[i].at <= this.tickNow) {
        this.due[i].settle();
        this.due.splice(i, 1);
      }
    }
    // Lets every settled promise's callbacks run (a macrotask turn, not a wait on the clock).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Answers everything still out. */
  async drain(): Promise<void> {
    while (this.due.length > 0) await this.tick();
  }
}

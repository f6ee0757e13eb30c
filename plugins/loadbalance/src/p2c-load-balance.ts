import { definePlugin, type Invocation, type Invoker, type LoadBalance } from '@plexus/kernel/spi';
import { LoadBalanceErrors } from './errors';
import { StatsBook, type NodeStat } from './node-stats';
import { WeightTables } from './weight-table';

/**
 * Default weight of the newest attempt in a provider's moving average latency: 0.2, so the
 * average follows a change within about ten answers but one slow outlier moves it by a fifth.
 */
export const P2C_DECAY = 0.2;

/**
 * Default time after which a provider that lost every comparison is chosen once anyway, ms: 3 s.
 * Its average only changes when it answers, so without this probe a provider that was slow once
 * could stay unchosen after it recovered.
 */
export const P2C_PROBE_MS = 3000;

/**
 * The second candidate wins only when its load is more than 10 % below the first's; closer than
 * that is noise, and the first drawn (a weighted random choice) keeps the call.
 */
export const TIE_SLACK = 0.1;

/** Options of `P2cLoadBalance`. */
export interface P2cOptions {
  /** Weight of the newest attempt in the moving average, in (0, 1]. Default {@link P2C_DECAY}. */
  decay?: number;
  /** A candidate not chosen for this long wins its comparison, ms; 0 turns probing off. Default {@link P2C_PROBE_MS}. */
  probeMs?: number;
  /** Uniform numbers in [0, 1), for tests. Default `Math.random`. */
  random?: () => number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Load record of one provider for one method. */
interface LoadStat extends NodeStat {
  /** Moving average latency in ms; -1 before the first answer. */
  latency: number;
  /** When this provider was last chosen (or first seen). */
  chosenAt: number;
}

/**
 * Power of two choices on a load score (the idea of Dubbo's `adaptive` and of Finagle's P2C):
 * draw two distinct providers at random in proportion to their weights, and send the call to the
 * one with less load — (moving average latency + 1 ms) × (attempts in flight + 1); by in-flight count alone
 * while either has no answer yet; the first drawn when the two are within 10 %, so with no load
 * information this is weighted random. Comparing two random candidates instead of scanning all keeps the cost O(log n)
 * per select and avoids the herd behaviour of always picking the global best from stale numbers.
 *
 * A failed attempt weighs more than an answer: it counts as twice the larger of its elapsed time
 * and the current average. A candidate that has not been chosen for `probeMs` wins
 * its comparison once, so a provider that recovered gets measured again. Latency and in-flight
 * counts come from the `started`/`finished` hooks the cluster calls around each attempt.
 * Scope: one instance per reference; `select` is synchronous.
 */
export class P2cLoadBalance implements LoadBalance {
  private readonly tables = new WeightTables();
  private readonly book: StatsBook<LoadStat>;
  /** Weight of the newest answer in the moving average. */
  readonly decay: number;
  /** A candidate not chosen for this long wins its comparison, ms (0: never). */
  readonly probeMs: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(options: P2cOptions = {}) {
    this.decay = options.decay ?? P2C_DECAY;
    this.probeMs = options.probeMs ?? P2C_PROBE_MS;
    if (!(this.decay > 0 && this.decay <= 1)) throw LoadBalanceErrors.OPTION('p2c', 'decay', 'above 0 and at most 1', options.decay);
    if (!(this.probeMs >= 0)) throw LoadBalanceErrors.OPTION('p2c', 'probeMs', '0 (off) or more', options.probeMs);
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.book = new StatsBook<LoadStat>((now) => ({ active: 0, seenAt: now, inRow: false, index: -1, latency: -1, chosenAt: now }), this.now);
  }

  select(invokers: readonly Invoker[], invocation: Invocation): Invoker {
    const n = invokers.length;
    if (n === 1) return invokers[0];
    const table = this.tables.of(invokers, this.now);
    // A single provider with weight: no comparison can pick another without breaking the weights.
    if (table.positive === 1) return invokers[table.lastPositive];
    const row = this.book.rowOf(invokers, invocation).row;
    const i = table.pick(this.random());
    const j = table.pickOther(this.random(), i);
    const a = row[i];
    const b = row[j];
    const now = this.now();
    let winner = i;
    let chosen = a;
    const staleA = this.probeMs > 0 && now - a.chosenAt >= this.probeMs;
    const staleB = this.probeMs > 0 && now - b.chosenAt >= this.probeMs;
    if (staleA !== staleB) {
      // One has gone unchosen for probeMs: it is measured again, whatever its old numbers say.
      if (staleB) {
        winner = j;
        chosen = b;
      }
    } else if (load(b, a) * (1 + TIE_SLACK) < load(a, b)) {
      winner = j;
      chosen = b;
    }
    chosen.chosenAt = now;
    return invokers[winner];
  }

  started(invoker: Invoker, invocation: Invocation): void {
    this.book.started(invoker, invocation);
  }

  finished(invoker: Invoker, invocation: Invocation, elapsedMs: number, failed: boolean): void {
    const stat = this.book.finished(invoker, invocation);
    if (stat === undefined) return;
    let sample = Number.isFinite(elapsedMs) && elapsedMs > 0 ? elapsedMs : 0;
    if (failed) sample = 2 * Math.max(sample, stat.latency);
    stat.latency = stat.latency < 0 ? sample : stat.latency + this.decay * (sample - stat.latency);
  }

  /** A provider's moving average latency for `invocation`'s method, or -1 before its first answer. For tests and diagnostics. */
  averageLatency(invoker: Invoker, invocation: Invocation): number {
    return this.book.find(invoker, invocation)?.latency ?? -1;
  }

  /** Attempts in flight on `invoker` for `invocation`'s method. For tests and diagnostics. */
  active(invoker: Invoker, invocation: Invocation): number {
    return this.book.find(invoker, invocation)?.active ?? 0;
  }
}

/**
 * The load of `s` when compared with `other`: (latency + 1 ms) × (in flight + 1) when both have
 * answered, else in-flight alone. The 1 ms keeps in-flight counts in play when answers take well
 * under a millisecond (in-process or loopback calls, measured as 0).
 */
function load(s: LoadStat, other: LoadStat): number {
  if (s.latency < 0 || other.latency < 0) return s.active;
  return (s.latency + 1) * (s.active + 1);
}

export default definePlugin({
  name: '@plexus/loadbalance',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'loadbalance',
      name: 'p2c',
      optionsSchema: {
        type: 'object',
        properties: {
          decay: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          probeMs: { type: 'integer', minimum: 0 },
        },
        additionalProperties: false,
      },
      create: (ctx) => new P2cLoadBalance({ decay: ctx.options.decay as number | undefined, probeMs: ctx.options.probeMs as number | undefined }),
    },
  ],
});

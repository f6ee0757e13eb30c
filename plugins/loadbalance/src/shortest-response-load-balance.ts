import { definePlugin, type Invocation, type Invoker, type LoadBalance } from '@plexus/kernel/spi';
import { LoadBalanceErrors } from './errors';
import { StatsBook, type NodeStat } from './node-stats';
import { WeightTables } from './weight-table';
import { TieBuffer } from './ties';

/**
 * Default length of the latency window, ms: 30 s (Dubbo's `shortestresponse` slide period).
 * Long enough to average over hundreds of calls of a busy method, short enough that a provider
 * that was slow a minute ago gets a fresh chance.
 */
export const SHORTEST_RESPONSE_WINDOW_MS = 30_000;

/**
 * Expected waits within this fraction of the shortest count as tied (10 %): averages differ by
 * noise, and without slack the provider that measured a few microseconds faster would take every
 * call until its average moved — the herd this balancer must avoid.
 */
export const TIE_SLACK = 0.1;

/** Options of `ShortestResponseLoadBalance`. */
export interface ShortestResponseOptions {
  /**
   * Length of the latency window, ms. Attempts are summed into two halves of `windowMs / 2`; when
   * the newer half is full the older is dropped, so the average always covers the last
   * `windowMs / 2` to `windowMs` of answers. Default {@link SHORTEST_RESPONSE_WINDOW_MS}.
   */
  windowMs?: number;
  /** Uniform numbers in [0, 1), for tests. Default `Math.random`. */
  random?: () => number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Latency and in-flight record of one provider for one method. */
interface LatencyStat extends NodeStat {
  /** Elapsed ms summed, and attempts counted, in the newer and the older half of the window. */
  sum: number;
  count: number;
  olderSum: number;
  olderCount: number;
  /** When the newer half began. */
  halfAt: number;
  /** Average over both halves, -1 when they are empty; kept up to date by `finished` and `roll`. */
  average: number;
}

/**
 * Shortest expected response (Dubbo's `shortestresponse`): each provider's average latency over a
 * sliding window (plus 1 ms, so in-flight counts still matter when answers take well under a
 * millisecond), multiplied by its attempts in flight + 1 — the time a new call can expect to
 * wait there — and the smallest wins; weighted random among those within 10 % of it (ties).
 * A provider with no answer in the window is counted at the best average of the others (so it is
 * tried, but not flooded while its first answers are out); when no provider has one, this is
 * least-active.
 *
 * A failed attempt weighs more than an answer: it counts as twice the larger of its elapsed time
 * and the provider's current average. Latency and in-flight counts come from the
 * `started`/`finished` hooks the cluster calls around each attempt. Cost: three allocation-free
 * passes over the list per select (O(n)); providers with weight 0 are skipped while another has
 * weight. Scope: one instance per reference; `select` is synchronous.
 */
export class ShortestResponseLoadBalance implements LoadBalance {
  private readonly tables = new WeightTables();
  private readonly book: StatsBook<LatencyStat>;
  private readonly ties = new TieBuffer();
  private averages = new Float64Array(16);
  /** Length of the latency window, ms. */
  readonly windowMs: number;
  private readonly halfMs: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(options: ShortestResponseOptions = {}) {
    this.windowMs = options.windowMs ?? SHORTEST_RESPONSE_WINDOW_MS;
    if (!(this.windowMs >= 2)) throw LoadBalanceErrors.OPTION('shortestresponse', 'windowMs', 'at least 2 (ms)', options.windowMs);
    this.halfMs = this.windowMs / 2;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.book = new StatsBook<LatencyStat>(
      (now) => ({ active: 0, seenAt: now, inRow: false, index: -1, sum: 0, count: 0, olderSum: 0, olderCount: 0, halfAt: now, average: -1 }),
      this.now,
    );
  }

  select(invokers: readonly Invoker[], invocation: Invocation): Invoker {
    const n = invokers.length;
    if (n === 1) return invokers[0];
    const now = this.now();
    const table = this.tables.of(invokers, this.now);
    const stats = this.book.rowOf(invokers, invocation);
    const row = stats.row;
    const actives = stats.actives;
    const weights = table.weights;
    const skipZero = table.positive > 0;
    if (this.averages.length < n) this.averages = new Float64Array(Math.max(n, this.averages.length * 2));
    const averages = this.averages;
    let bestKnown = Infinity;
    for (let i = 0; i < n; i++) {
      if (skipZero && weights[i] <= 0) continue;
      const stat = row[i];
      if (now - stat.halfAt >= this.halfMs) this.roll(stat, now);
      const avg = stat.average;
      averages[i] = avg;
      if (avg >= 0 && avg < bestKnown) bestKnown = avg;
    }
    if (bestKnown === Infinity) bestKnown = 0;
    // The expected wait of each provider, over its average (the scratch array is reused).
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      if (skipZero && weights[i] <= 0) continue;
      const avg = averages[i];
      const expected = ((avg >= 0 ? avg : bestKnown) + 1) * (actives[i] + 1);
      averages[i] = expected;
      if (expected < best) best = expected;
    }
    const limit = best * (1 + TIE_SLACK);
    const ties = this.ties.reserve(n);
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (skipZero && weights[i] <= 0) continue;
      if (averages[i] <= limit) ties[count++] = i;
    }
    return invokers[this.ties.pick(count, weights, this.random)];
  }

  started(invoker: Invoker, invocation: Invocation): void {
    this.book.started(invoker, invocation);
  }

  finished(invoker: Invoker, invocation: Invocation, elapsedMs: number, failed: boolean): void {
    const stat = this.book.finished(invoker, invocation);
    if (stat === undefined) return;
    const now = this.now();
    this.roll(stat, now);
    let sample = Number.isFinite(elapsedMs) && elapsedMs > 0 ? elapsedMs : 0;
    if (failed) sample = 2 * Math.max(sample, Math.max(0, this.averageOf(stat, now)));
    stat.sum += sample;
    stat.count++;
    stat.average = (stat.sum + stat.olderSum) / (stat.count + stat.olderCount);
  }

  /** A provider's average latency in the window for `invocation`'s method, or -1 with none. For tests and diagnostics. */
  averageLatency(invoker: Invoker, invocation: Invocation): number {
    const stat = this.book.find(invoker, invocation);
    return stat === undefined ? -1 : this.averageOf(stat, this.now());
  }

  /** Attempts in flight on `invoker` for `invocation`'s method. For tests and diagnostics. */
  active(invoker: Invoker, invocation: Invocation): number {
    return this.book.find(invoker, invocation)?.active ?? 0;
  }

  /** Average over the window at `now`, or -1 when the window holds no attempt. */
  private averageOf(stat: LatencyStat, now: number): number {
    this.roll(stat, now);
    return stat.average;
  }

  /** Moves the window forward: the newer half becomes the older one, or both empty after a whole window. */
  private roll(stat: LatencyStat, now: number): void {
    const age = now - stat.halfAt;
    if (age < this.halfMs) return;
    if (age >= this.windowMs) {
      stat.olderSum = 0;
      stat.olderCount = 0;
    } else {
      stat.olderSum = stat.sum;
      stat.olderCount = stat.count;
    }
    stat.sum = 0;
    stat.count = 0;
    stat.halfAt = now;
    stat.average = stat.olderCount === 0 ? -1 : stat.olderSum / stat.olderCount;
  }
}

export default definePlugin({
  name: '@plexus/loadbalance',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'loadbalance',
      name: 'shortestresponse',
      optionsSchema: {
        type: 'object',
        properties: { windowMs: { type: 'integer', minimum: 2 } },
        additionalProperties: false,
      },
      create: (ctx) => new ShortestResponseLoadBalance({ windowMs: ctx.options.windowMs as number | undefined }),
    },
  ],
});

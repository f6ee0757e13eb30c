import { definePlugin, type Invocation, type Invoker, type LoadBalance } from '@plexus/kernel/spi';
import { StatsBook, type NodeStat } from './node-stats';
import { WeightTables } from './weight-table';
import { TieBuffer } from './ties';

/** Options of `LeastActiveLoadBalance`, for tests. */
export interface LeastActiveOptions {
  /** Uniform numbers in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** The clock (warmup, recycling). Default `Date.now`. */
  now?: () => number;
}

/**
 * Least active (Dubbo's `leastactive`): the provider with the fewest attempts in flight for this
 * method, weighted random among those tied for fewest. A slow provider holds its calls longer, so
 * its count stays higher and it gets fewer new calls: traffic drains from it by itself.
 *
 * In-flight counts are kept here, per method and provider, through the `started`/`finished` hooks
 * that every cluster calls around each attempt. Cost: one pass over the providers' counts per
 * select (O(n), allocation-free; the records of a list are lined up with it once per list);
 * providers with weight 0 are skipped while another has weight.
 * Scope: one instance per reference; `select` is synchronous.
 */
export class LeastActiveLoadBalance implements LoadBalance {
  private readonly tables = new WeightTables();
  private readonly book: StatsBook<NodeStat>;
  private readonly ties = new TieBuffer();
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(options: LeastActiveOptions = {}) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.book = new StatsBook<NodeStat>((now) => ({ active: 0, seenAt: now, inRow: false, index: -1 }), this.now);
  }

  select(invokers: readonly Invoker[], invocation: Invocation): Invoker {
    const n = invokers.length;
    if (n === 1) return invokers[0];
    const table = this.tables.of(invokers, this.now);
    const actives = this.book.rowOf(invokers, invocation).actives;
    const weights = table.weights;
    const skipZero = table.positive > 0;
    const ties = this.ties.reserve(n);
    let least = Infinity;
    let count = 0;
    // The tied weights are summed during the scan, so the draw among ties needs no second pass.
    let total = 0;
    let first = 0;
    let same = true;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (skipZero && w <= 0) continue;
      const active = actives[i];
      if (active < least) {
        least = active;
        ties[0] = i;
        count = 1;
        total = w;
        first = w;
        same = true;
      } else if (active === least) {
        ties[count++] = i;
        total += w;
        if (w !== first) same = false;
      }
    }
    return invokers[this.ties.pickSummed(count, total, same, weights, this.random)];
  }

  started(invoker: Invoker, invocation: Invocation): void {
    this.book.started(invoker, invocation);
  }

  finished(invoker: Invoker, invocation: Invocation, _elapsedMs: number, _failed: boolean): void {
    this.book.finished(invoker, invocation);
  }

  /** Attempts in flight on `invoker` for `invocation`'s method. For tests and diagnostics. */
  active(invoker: Invoker, invocation: Invocation): number {
    return this.book.find(invoker, invocation)?.active ?? 0;
  }

  /** How many provider records are held, over all methods. For tests and diagnostics. */
  trackedProviders(): number {
    return this.book.size();
  }
}

export default definePlugin({
  name: '@plexus/loadbalance',
  kernel: '^0.1.0',
  extensions: [{ point: 'loadbalance', name: 'leastactive', create: () => new LeastActiveLoadBalance() }],
});

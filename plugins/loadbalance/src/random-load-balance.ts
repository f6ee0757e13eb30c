import { definePlugin, type Invocation, type Invoker, type LoadBalance } from '@plexus/kernel/spi';
import { WeightTables } from './weight-table';

/** Options of `RandomLoadBalance`, for tests. */
export interface RandomOptions {
  /** Uniform numbers in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** The clock (warmup). Default `Date.now`. */
  now?: () => number;
}

/**
 * Weighted random choice (Dubbo's `random`, the default): a provider is picked with probability
 * weight / total weight, where weights come from `invokerWeight` (the `weight` param reduced
 * during warmup). The weights of a list and their running sums are computed once per list (and
 * every second while a provider warms up), so a pick is one random number and a binary search —
 * O(log n), and O(1) when all weights are equal. No allocation per call.
 * Scope: one instance per reference; `select` is synchronous.
 */
export class RandomLoadBalance implements LoadBalance {
  private readonly tables = new WeightTables();
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(options: RandomOptions | (() => number) = {}) {
    const o = typeof options === 'function' ? { random: options } : options;
    this.random = o.random ?? Math.random;
    this.now = o.now ?? Date.now;
  }

  select(invokers: readonly Invoker[], _invocation: Invocation): Invoker {
    if (invokers.length === 1) return invokers[0];
    return invokers[this.tables.of(invokers, this.now).pick(this.random())];
  }
}

export default definePlugin({
  name: '@plexus/loadbalance',
  kernel: '^0.1.0',
  extensions: [{ point: 'loadbalance', name: 'random', create: () => new RandomLoadBalance() }],
});

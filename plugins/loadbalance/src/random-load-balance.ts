import { definePlugin, invokerWeight, type Invocation, type Invoker, type LoadBalance } from '@plexus/kernel/spi';

/**
 * Weighted random choice (Dubbo's `random`, the default): a provider is picked with probability
 * weight / total weight, where weights come from `invokerWeight` (the `weight` param reduced
 * during warmup). When all weights are equal the pick is uniform and costs one random number.
 * Scope: one instance per reference; `select` is synchronous and reentrant (the scratch buffer is
 * only used within one call, and JavaScript runs one call at a time).
 */
export class RandomLoadBalance implements LoadBalance {
  /** Weights of the current call, reused across calls so the weighted path does not allocate. */
  private weights = new Float64Array(16);

  constructor(private readonly random: () => number = Math.random) {}

  select(invokers: readonly Invoker[], _invocation: Invocation): Invoker {
    const n = invokers.length;
    if (n === 1) return invokers[0];
    if (this.weights.length < n) this.weights = new Float64Array(Math.max(n, this.weights.length * 2));
    const weights = this.weights;
    const now = Date.now();
    let total = 0;
    let same = true;
    for (let i = 0; i < n; i++) {
      const w = invokerWeight(invokers[i], now);
      weights[i] = w;
      total += w;
      if (same && i > 0 && w !== weights[0]) same = false;
    }
    if (!same && total > 0) {
      let offset = this.random() * total;
      let lastWeighted = 0;
      for (let i = 0; i < n; i++) {
        const w = weights[i];
        if (w <= 0) continue;
        offset -= w;
        if (offset < 0) return invokers[i];
        lastWeighted = i;
      }
      // Only reached through floating-point rounding at the very top of the range.
      return invokers[lastWeighted];
    }
    return invokers[Math.floor(this.random() * n)];
  }
}

export default definePlugin({
  name: '@plexus/loadbalance',
  kernel: '^0.1.0',
  extensions: [{ point: 'loadbalance', name: 'random', create: () => new RandomLoadBalance() }],
});

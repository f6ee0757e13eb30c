/**
 * Scratch space for the indexes of providers tied for best, reused across calls so a select does
 * not allocate, and the weighted random draw among them. Internal to this package.
 */
export class TieBuffer {
  private buffer = new Int32Array(16);

  /** A buffer of at least `n` entries (grows, never shrinks). */
  reserve(n: number): Int32Array {
    if (this.buffer.length < n) this.buffer = new Int32Array(Math.max(n, this.buffer.length * 2));
    return this.buffer;
  }

  /**
   * One of the first `count` indexes in the buffer: with probability proportional to `weights[i]`
   * when their weights differ, uniformly when they are equal or all 0.
   */
  pick(count: number, weights: Float64Array, random: () => number): number {
    const ties = this.buffer;
    if (count === 1) return ties[0];
    let total = 0;
    let same = true;
    const first = weights[ties[0]];
    for (let k = 0; k < count; k++) {
      const w = weights[ties[k]];
      total += w;
      if (w !== first) same = false;
    }
    return this.pickSummed(count, total, same, weights, random);
  }

  /** `pick` for a caller that summed the tied weights (`total`) and knows whether they are all equal (`same`). */
  pickSummed(count: number, total: number, same: boolean, weights: Float64Array, random: () => number): number {
    const ties = this.buffer;
    if (count === 1) return ties[0];
    if (!same && total > 0) {
      let offset = random() * total;
      let last = ties[0];
      for (let k = 0; k < count; k++) {
        const w = weights[ties[k]];
        if (w <= 0) continue;
        offset -= w;
        last = ties[k];
        if (offset < 0) return last;
      }
      // Only reached through float rounding at the very top of the range.
      return last;
    }
    return ties[Math.floor(random() * count)];
  }
}

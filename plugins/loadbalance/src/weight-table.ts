import { DEFAULT_WARMUP, invokerWeight, type Invoker } from '@plexus/kernel/spi';

/**
 * How often the weights of a list with warming providers are recomputed, ms. A provider's weight
 * grows by `weight / warmup` per ms (0.17 % of its weight per second with the default 10-minute
 * warmup), so a second-old table is off by far less than the noise of random choice.
 */
export const WARMUP_REFRESH_MS = 1000;

/**
 * The effective weights of one provider list (weight × uptime / warmup, at least 1; 0 stays 0),
 * with running sums for an O(log n) weighted pick. Built once per list: the directory hands the
 * same array object until its providers change, so the table is cached by that identity and only
 * recomputed while some provider is still warming up (at most every {@link WARMUP_REFRESH_MS}).
 * Internal to this package.
 */
export class WeightTable {
  /** Effective weight of `list[i]`. */
  weights: Float64Array;
  /** `prefix[i]` = weights[0] + … + weights[i]. */
  prefix: Float64Array;
  total = 0;
  /** How many providers have a weight above 0. */
  positive = 0;
  /** Every weight is equal and above 0: a pick is one random index. */
  uniform = true;
  /** Index of the last provider with weight above 0 (guards float rounding at the top of the range). */
  lastPositive = -1;
  /** Some provider is still warming up: the weights change with time. */
  warming = false;
  computedAt = 0;

  constructor(readonly list: readonly Invoker[], now: number) {
    this.weights = new Float64Array(list.length);
    this.prefix = new Float64Array(list.length);
    this.compute(now);
  }

  /** Recomputes the weights at `now`. */
  compute(now: number): void {
    const list = this.list;
    const n = list.length;
    let total = 0;
    let positive = 0;
    let uniform = true;
    let warming = false;
    let lastPositive = -1;
    for (let i = 0; i < n; i++) {
      const invoker = list[i];
      const w = invokerWeight(invoker, now);
      if (!warming && isWarming(invoker, now)) warming = true;
      this.weights[i] = w;
      total += w;
      this.prefix[i] = total;
      if (w > 0) {
        positive++;
        lastPositive = i;
      }
      if (i > 0 && w !== this.weights[0]) uniform = false;
    }
    this.total = total;
    this.positive = positive;
    this.uniform = uniform && total > 0;
    this.lastPositive = lastPositive;
    this.warming = warming;
    this.computedAt = now;
  }

  /**
   * The index a uniform random number `r` in [0, 1) lands on: by weight when weights differ, by
   * index when they are equal or all 0. A provider of weight 0 is never returned while another has
   * weight. O(log n), no allocation.
   */
  pick(r: number): number {
    const n = this.list.length;
    if (this.uniform || this.total <= 0) return Math.floor(r * n);
    return this.indexAt(r * this.total);
  }

  /**
   * Like `pick`, but never `exclude` (when another provider can be returned): the weight of
   * `exclude` is cut out of the range, so the draw stays proportional among the rest.
   */
  pickOther(r: number, exclude: number): number {
    const n = this.list.length;
    if (this.uniform || this.total <= 0) {
      const j = Math.floor(r * (n - 1));
      return j >= exclude ? j + 1 : j;
    }
    const w = this.weights[exclude];
    if (this.total - w <= 0) {
      const j = Math.floor(r * (n - 1));
      return j >= exclude ? j + 1 : j;
    }
    let offset = r * (this.total - w);
    const start = this.prefix[exclude] - w;
    if (offset >= start) offset += w;
    return this.indexAt(offset);
  }

  /** The first index whose running sum exceeds `offset` (binary search). */
  private indexAt(offset: number): number {
    const prefix = this.prefix;
    let lo = 0;
    let hi = this.list.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (prefix[mid] > offset) hi = mid;
      else lo = mid + 1;
    }
    // Float rounding can land `offset` on the total itself; the top of the range belongs to the last weighted provider.
    return prefix[lo] > offset ? lo : this.lastPositive;
  }
}

/** Whether a provider's weight still grows with its uptime (the same test as `invokerWeight`). */
function isWarming(invoker: Invoker, now: number): boolean {
  const url = invoker.url;
  const started = url.getNumber('timestamp', 0);
  if (started <= 0) return false;
  const warmup = url.getNumber('warmup', DEFAULT_WARMUP);
  return warmup > 0 && now - started < warmup;
}

/**
 * Weight tables by list identity, one per balancer instance. The last list asked for is checked
 * first (one comparison on the hot path); other lists are kept in a WeakMap, so a list the
 * directory dropped is collected with its table.
 */
export class WeightTables {
  private last: WeightTable | undefined;
  private readonly tables = new WeakMap<readonly Invoker[], WeightTable>();

  constructor(private readonly refreshMs = WARMUP_REFRESH_MS) {}

  /** The table of `list`; `clock` is read only when a table is built or may need a refresh. */
  of(list: readonly Invoker[], clock: () => number): WeightTable {
    let table = this.last;
    if (table === undefined || table.list !== list) {
      table = this.tables.get(list);
      if (table === undefined) {
        table = new WeightTable(list, clock());
        this.tables.set(list, table);
        this.last = table;
        return table;
      }
      this.last = table;
    }
    if (table.warming) {
      const now = clock();
      if (now - table.computedAt >= this.refreshMs) table.compute(now);
    }
    return table;
  }
}

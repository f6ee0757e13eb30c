/**
 * Latency recording for the load loops: a log-linear histogram with fixed memory, so a long or
 * fast run never grows an array per call, plus the small helpers the report uses.
 */

/** Resolution of a recorded value: 0.1 µs, expressed in milliseconds. */
const UNIT_MS = 1e-4;
/** Sub-buckets per power of two; 128 keeps the relative error of a percentile under 0.8 %. */
const SUB_BITS = 7;
const SUB_COUNT = 1 << SUB_BITS;
/** Largest recordable value in units (about 214 s); longer values are clamped. */
const MAX_UNITS = 0x7fffffff;
const BUCKETS = SUB_COUNT + (31 - SUB_BITS) * SUB_COUNT;

/**
 * A latency histogram in milliseconds. Fixed size (about 25 KiB), no allocation per record.
 * Scope: one load loop; not shared between processes (send {@link LatencyHistogram.summary}).
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private sum = 0;
  private lo = Infinity;
  private hi = -Infinity;

  /** Adds one latency in milliseconds. */
  record(ms: number): void {
    let u = Math.floor(ms / UNIT_MS);
    if (u < 0) u = 0;
    else if (u > MAX_UNITS) u = MAX_UNITS;
    this.counts[bucketOf(u)]++;
    this.n++;
    this.sum += ms;
    if (ms < this.lo) this.lo = ms;
    if (ms > this.hi) this.hi = ms;
  }

  /** Number of recorded values. */
  get count(): number {
    return this.n;
  }

  /** The value at percentile `p` (0–100) in milliseconds; NaN when empty. */
  percentile(p: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.hi, Math.max(this.lo, middleOf(i) * UNIT_MS));
    }
    return this.hi;
  }

  /** A plain summary that survives IPC. */
  summary(): LatencySummary {
    const empty = this.n === 0;
    return {
      count: this.n,
      mean: empty ? NaN : this.sum / this.n,
      min: empty ? NaN : this.lo,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: empty ? NaN : this.hi,
    };
  }
}

/** Latency percentiles of one measurement, in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

function bucketOf(u: number): number {
  if (u < SUB_COUNT) return u;
  const exp = 31 - Math.clz32(u);
  const shift = exp - SUB_BITS;
  return SUB_COUNT + shift * SUB_COUNT + ((u >>> shift) - SUB_COUNT);
}

function middleOf(index: number): number {
  if (index < SUB_COUNT) return index + 0.5;
  const shift = Math.floor((index - SUB_COUNT) / SUB_COUNT);
  const sub = SUB_COUNT + ((index - SUB_COUNT) % SUB_COUNT);
  return (sub + 0.5) * 2 ** shift;
}

/** Median of finite numbers; NaN when none is finite. */
export function median(values: readonly number[]): number {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

import type { Registry } from 'prom-client';

/** The metric names and label names of DESIGN §11 (contract). */
export const METRIC_NAMES = Object.freeze({
  requests: 'plexus_requests_total',
  duration: 'plexus_request_duration_seconds',
  inFlight: 'plexus_requests_in_flight',
  providers: 'plexus_providers',
});

/**
 * Upper bounds of the duration histogram, in seconds. Default: 0.5 ms to 10 s, about ×2.5 apart —
 * a loopback call takes well under a millisecond and a consumer's default budget is 1 s, so both
 * ends of what RPC latency looks like get buckets, at 15 series per method and code.
 */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** The method label of every call to a method its service or reference does not declare. */
export const OTHER_METHOD = 'other';

/** The outcomes of one code of one series: a count and a histogram (per-bucket, not cumulative). */
export class Outcome {
  count = 0;
  sum = 0;
  readonly buckets: Float64Array;

  constructor(
    readonly code: string,
    size: number,
  ) {
    // One slot per bound plus +Inf.
    this.buckets = new Float64Array(size + 1);
  }
}

/**
 * What one side, service and method have done: calls in flight and, per code, the count and
 * duration histogram. Plain numbers updated on each call; prom-client sees them only when the
 * registry is scraped, so a call costs a few additions and no label hashing.
 */
export class MethodSeries {
  inFlight = 0;
  /** The OK outcome, kept apart since nearly every call ends there. */
  readonly ok: Outcome;
  /** Error outcomes by RpcCode; a closed set of codes, so bounded. */
  readonly errors = new Map<string, Outcome>();
  /** `{ side, service, method }`, shared by every value this series exports. */
  readonly labels: Readonly<Record<string, string>>;

  constructor(
    side: string,
    service: string,
    method: string,
    private readonly bounds: readonly number[],
  ) {
    this.labels = Object.freeze({ side, service, method });
    this.ok = new Outcome('OK', bounds.length);
  }

  /** Records one finished call of `seconds` with `outcome`. */
  record(outcome: Outcome, seconds: number): void {
    outcome.count++;
    outcome.sum += seconds;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]) i++;
    outcome.buckets[i]++;
  }

  /** The outcome of an error code, created on its first use. */
  error(code: string): Outcome {
    let o = this.errors.get(code);
    if (o === undefined) this.errors.set(code, (o = new Outcome(code, this.bounds.length)));
    return o;
  }

  outcomes(): Outcome[] {
    return this.ok.count > 0 ? [this.ok, ...this.errors.values()] : [...this.errors.values()];
  }

  reset(): void {
    for (const o of [this.ok, ...this.errors.values()]) {
      o.count = 0;
      o.sum = 0;
      o.buckets.fill(0);
    }
    this.errors.clear();
  }
}

/** One exported sample, in the shape prom-client's registry formats. */
interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** What a prom-client registry asks of a metric it holds (the shape of its own metric classes). */
interface CollectedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: 'sum' }>;
  reset(): void;
}

/** Answers a registry's scrape from this package's own numbers. */
abstract class ExportedMetric implements CollectedMetric {
  readonly aggregator = 'sum' as const;
  /** Marks metrics made by this package, so a second copy of it (or a second app) reuses them. */
  readonly plexusMetrics = true;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    protected readonly set: MetricSet,
  ) {}
  async get() {
    return { name: this.name, help: this.help, type: this.type, values: this.samples(), aggregator: this.aggregator };
  }
  reset(): void {
    this.set.reset();
  }
  protected abstract samples(): Sample[];
}

class RequestsCounter extends ExportedMetric {
  protected samples(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.set.series.values()) {
      for (const o of s.outcomes()) out.push({ value: o.count, labels: { ...s.labels, code: o.code } });
    }
    return out;
  }
}

class DurationHistogram extends ExportedMetric {
  protected samples(): Sample[] {
    const out: Sample[] = [];
    const bounds = this.set.bounds;
    for (const s of this.set.series.values()) {
      for (const o of s.outcomes()) {
        const labels = { ...s.labels, code: o.code };
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += o.buckets[i];
          out.push({ value: cumulative, labels: { ...labels, le: bounds[i] }, metricName: `${this.name}_bucket` });
        }
        out.push({ value: o.count, labels: { ...labels, le: '+Inf' }, metricName: `${this.name}_bucket` });
        out.push({ value: o.sum, labels, metricName: `${this.name}_sum` });
        out.push({ value: o.count, labels, metricName: `${this.name}_count` });
      }
    }
    return out;
  }
}

class InFlightGauge extends ExportedMetric {
  protected samples(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.set.series.values()) out.push({ value: s.inFlight, labels: { ...s.labels } });
    return out;
  }
}

class ProvidersGauge extends ExportedMetric {
  protected samples(): Sample[] {
    const totals = new Map<string, number>();
    for (const source of this.set.providerSources) {
      for (const [service, n] of source.providerCounts()) totals.set(service, (totals.get(service) ?? 0) + n);
    }
    return [...totals].map(([service, value]) => ({ value, labels: { service } }));
  }
  // Provider counts are state, not accumulated numbers: a registry reset leaves them.
  override reset(): void {}
}

/** Something that knows how many providers each service has (one per application). */
export interface ProviderSource {
  providerCounts(): Iterable<[string, number]>;
}

/**
 * The four metrics of DESIGN §11 in one prom-client registry, and the numbers behind them. One per
 * registry: every filter, reference and application of the process writing there shares it.
 */
export class MetricSet {
  readonly series = new Map<string, MethodSeries>();
  readonly providerSources = new Set<ProviderSource>();

  constructor(readonly bounds: readonly number[]) {}

  /** The series of a side, service and method, created on first use. */
  seriesOf(side: string, service: string, method: string): MethodSeries {
    const key = `${side}\u0000${service}\u0000${method}`;
    let s = this.series.get(key);
    if (s === undefined) this.series.set(key, (s = new MethodSeries(side, service, method, this.bounds)));
    return s;
  }

  /** Zeroes the counters and histograms (what `registry.resetMetrics()` asks); calls in flight stay counted. */
  reset(): void {
    for (const s of this.series.values()) s.reset();
  }

  /** Registers the metrics in `registry`; fails (naming the metric) when a metric of that name is already there. */
  register(registry: Registry): void {
    const metrics: ExportedMetric[] = [
      new RequestsCounter(METRIC_NAMES.requests, 'Calls finished, by side, service, method and code (OK or the RpcCode).', 'counter', this),
      new DurationHistogram(METRIC_NAMES.duration, 'Call duration in seconds, by side, service, method and code.', 'histogram', this),
      new InFlightGauge(METRIC_NAMES.inFlight, 'Calls started and not yet finished, by side, service and method.', 'gauge', this),
      new ProvidersGauge(METRIC_NAMES.providers, 'Providers a consumer currently sees, by service.', 'gauge', this),
    ];
    for (const m of metrics) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}

/** The set a registry already holds (this package's, from any copy of it), if any. */
export function metricSetIn(registry: Registry): MetricSet | undefined {
  const found = registry.getSingleMetric(METRIC_NAMES.requests) as unknown as { plexusMetrics?: boolean; set?: MetricSet } | undefined;
  return found?.plexusMetrics === true ? found.set : undefined;
}

/** @plexus/filter-metrics — Prometheus metrics of every call (DESIGN §11), through prom-client. */
export {
  MetricsFilter,
  createMetricsFilter,
  metricSetFor,
  METRICS_DEFAULTS,
  MetricNameTakenError,
  MetricsRegistryError,
  MetricsBucketsError,
  METRICS_BUCKETS_IGNORED,
  type MetricsOptions,
} from './metrics-filter';
export { MetricSet, MethodSeries, METRIC_NAMES, DEFAULT_BUCKETS, OTHER_METHOD, type ProviderSource } from './metric-series';
export { ProviderTracker, MAX_LISTED_METHODS, METRICS_METHODS_CAPPED, type EventSource } from './provider-tracker';

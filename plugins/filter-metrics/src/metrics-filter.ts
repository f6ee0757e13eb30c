import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, register as defaultRegister, type Registry } from 'prom-client';
import {
  CONFIG,
  EVENTS,
  RpcError,
  defineError,
  definePlugin,
  isRpcCode,
  type ExtensionContext,
  type CallInterceptor,
  type Filter,
  type Invocation,
  type Invoker,
  type Logger,
  type MethodSettings,
  type Result,
} from '@plexus/kernel/spi';
import { DEFAULT_BUCKETS, METRIC_NAMES, MetricSet, OTHER_METHOD, metricSetIn, type MethodSeries } from './metric-series';
import { ProviderTracker, type EventSource } from './provider-tracker';

/** A metric of DESIGN §11 is already in the registry, made by something else. */
export const MetricNameTakenError = defineError(
  'PLEXUS_ERR_METRICS_NAME_TAKEN',
  (name: string) => `the prom-client registry already holds a metric named "${name}" that @plexus/filter-metrics did not create`,
  'Remove your own metric of that name, or give the filter a registry of its own: extensions.filter.metrics.registry (from code).',
);

/** `extensions.filter.metrics.registry` is not a prom-client Registry. */
export const MetricsRegistryError = defineError(
  'PLEXUS_ERR_METRICS_REGISTRY',
  () => 'extensions.filter.metrics.registry is not a prom-client Registry',
  'Pass a `new Registry()` from prom-client (from code; a config file cannot hold one), or leave it out to use prom-client\'s global register.',
);

/** `extensions.filter.metrics.buckets` is not a strictly increasing list of positive seconds. */
export const MetricsBucketsError = defineError(
  'PLEXUS_ERR_METRICS_BUCKETS',
  (given: string) => `extensions.filter.metrics.buckets must be positive seconds in increasing order, got ${given}`,
  'List the histogram\'s upper bounds in seconds, smallest first, e.g. [0.001, 0.01, 0.1, 1]; +Inf is added by itself.',
);

/** A warning: a registry's histogram already had other buckets; the ones asked for are not used. */
export const METRICS_BUCKETS_IGNORED = 'PLEXUS_ERR_METRICS_BUCKETS_IGNORED';

/** Options of the filter, under `extensions.filter.metrics`. */
export interface MetricsOptions {
  /**
   * The prom-client registry the metrics go to. Default: prom-client's global `register`, the one
   * `@plexus/qos` serves at `/metrics` and most applications already expose. From code only.
   */
  registry?: Registry;
  /**
   * Also collect prom-client's default process metrics (CPU, memory, event loop lag, GC) in the
   * same registry, once. Default false: an application that exposes metrics usually has them already.
   */
  defaultMetrics?: boolean;
  /** Upper bounds of the duration histogram in seconds. Default {@link DEFAULT_BUCKETS}. The first filter to use a registry fixes them. */
  buckets?: number[];
  /**
   * When nothing declares a consumer's methods (a direct `url:` or in-process reference with no
   * `methods:`, whose providers' method lists are not known), the first this many method names of
   * the service get their own label and later ones count as `other`. Default 32: more than a
   * typical service has, few enough that a generic caller naming methods at random cannot grow
   * the series without bound.
   */
  undeclaredMethods?: number;
}

export const METRICS_DEFAULTS = Object.freeze({ defaultMetrics: false, undeclaredMethods: 32 });

const OPTIONS_SCHEMA = {
  type: 'object',
  properties: {
    registry: { type: 'object' },
    defaultMetrics: { type: 'boolean', default: METRICS_DEFAULTS.defaultMetrics },
    buckets: { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 64 },
    undeclaredMethods: { type: 'integer', minimum: 0, maximum: 10_000, default: METRICS_DEFAULTS.undeclaredMethods },
  },
  additionalProperties: false,
};

/** Sets per registry: whichever copy of this module or application gets there first makes it. */
const sets = new WeakMap<Registry, MetricSet>();
const withDefaults = new WeakSet<Registry>();
/** One provider tracker per application (its events object). */
const trackers = new WeakMap<object, ProviderTracker>();

/** The kernel's start check; not a call anyone made. */
const ECHO = '$echo';

/**
 * Prometheus metrics of every call (DESIGN §11): `plexus_requests_total`,
 * `plexus_request_duration_seconds`, `plexus_requests_in_flight` with labels side, service (the
 * service key), method and code (`OK` or the RpcCode), and `plexus_providers{service}` for the
 * consumer. Runs on both sides when named in `filter:`; on the consumer it wraps the cluster, so one
 * call is counted once, retries included, with the outcome the caller saw.
 *
 * The series of a method is looked up once per method (per `MethodSettings`) and then updated with
 * plain additions; prom-client reads the numbers when the registry is scraped. Method labels are
 * bounded: a provider counts the methods of its method table (nothing else reaches a filter); a
 * consumer counts the methods its providers list or its `methods:` config names, and every other
 * method as `other` (see `undeclaredMethods` for references where nothing lists them).
 * Scope: one instance per reference or service; called concurrently.
 */
export class MetricsFilter implements Filter {
  private readonly bySettings = new WeakMap<MethodSettings, MethodSeries>();
  /** Consumer: names admitted without a declaration, per service (bounded by `undeclaredMethods`). */
  private readonly admitted = new Map<string, Set<string>>();
  /** Consumer: methods the reference config names, per service key. */
  private readonly configured = new Map<string, ReadonlySet<string>>();

  constructor(
    readonly set: MetricSet,
    private readonly tracker: ProviderTracker | undefined,
    private readonly referenceMethods: (invocation: Invocation) => ReadonlySet<string>,
    private readonly undeclaredMethods: number = METRICS_DEFAULTS.undeclaredMethods,
  ) {}

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    let series = this.bySettings.get(invocation.settings);
    if (series === undefined) {
      if (invocation.method === ECHO) return next.invoke(invocation);
      series = this.seriesFor(invocation);
    }
    const s = series;
    const started = performance.now();
    s.inFlight++;
    return next.invoke(invocation).then(
      (result) => {
        s.inFlight--;
        s.record(s.ok, (performance.now() - started) / 1000);
        return result;
      },
      (err: unknown) => {
        s.inFlight--;
        s.record(s.error(codeOf(err)), (performance.now() - started) / 1000);
        throw err;
      },
    );
  }

  /**
   * The provider's callback form: the same counting with no promise of its own (the kernel then
   * answers synchronous methods without any). `$echo` never reaches a provider's filters.
   */
  readonly interceptor: CallInterceptor = {
    before: (invocation: Invocation): void => {
      let s = this.bySettings.get(invocation.settings);
      if (s === undefined) s = this.seriesFor(invocation);
      s.inFlight++;
    },
    after: (invocation: Invocation, error: unknown, elapsedMs: number): void => {
      const s = this.bySettings.get(invocation.settings) ?? this.seriesFor(invocation);
      s.inFlight--;
      s.record(error === undefined ? s.ok : s.error(codeOf(error)), elapsedMs / 1000);
    },
  };

  /** The series of a call's method; kept per `MethodSettings` unless it is `other` (a later provider list may declare it). */
  private seriesFor(invocation: Invocation): MethodSeries {
    // The kernel does not tell a filter its side: provider-side invocations carry the caller's address.
    if (invocation.remoteAddress !== undefined) {
      // Only the method table's methods reach a provider filter: each is declared.
      const s = this.set.seriesOf('provider', invocation.serviceKey, invocation.method);
      this.bySettings.set(invocation.settings, s);
      return s;
    }
    const method = this.consumerLabel(invocation);
    const s = this.set.seriesOf('consumer', invocation.serviceKey, method);
    if (method !== OTHER_METHOD) this.bySettings.set(invocation.settings, s);
    return s;
  }

  private consumerLabel(invocation: Invocation): string {
    const service = invocation.serviceKey;
    const method = invocation.method;
    let configured = this.configured.get(service);
    if (configured === undefined) this.configured.set(service, (configured = this.referenceMethods(invocation)));
    if (configured.has(method)) return method;
    const listed = this.tracker?.methodsOf(service);
    if (listed !== undefined) return listed.has(method) ? method : OTHER_METHOD;
    if (configured.size > 0) return OTHER_METHOD;
    let admitted = this.admitted.get(service);
    if (admitted === undefined) this.admitted.set(service, (admitted = new Set()));
    if (admitted.has(method)) return method;
    if (admitted.size >= this.undeclaredMethods) return OTHER_METHOD;
    admitted.add(method);
    return method;
  }
}

function codeOf(err: unknown): string {
  return RpcError.is(err) && isRpcCode(err.code) ? err.code : 'UNKNOWN';
}

/** The metric set of `registry`, registering the four metrics on first use. */
export function metricSetFor(registry: Registry, buckets: readonly number[], logger: Logger): MetricSet {
  let set = sets.get(registry) ?? metricSetIn(registry);
  if (set === undefined) {
    for (const name of Object.values(METRIC_NAMES)) {
      if (registry.getSingleMetric(name) !== undefined) throw MetricNameTakenError(name);
    }
    set = new MetricSet(buckets);
    set.register(registry);
  } else if (!sameBounds(set.bounds, buckets)) {
    logger.warn(`metrics: the registry's histogram already has buckets [${set.bounds.join(', ')}]; the buckets [${buckets.join(', ')}] asked for here are not used`, {
      code: METRICS_BUCKETS_IGNORED,
    });
  }
  sets.set(registry, set);
  return set;
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function checkBuckets(buckets: unknown): readonly number[] {
  if (buckets === undefined) return DEFAULT_BUCKETS;
  const list = buckets as number[];
  const ok = list.every((v, i) => Number.isFinite(v) && v > 0 && (i === 0 || v > list[i - 1]));
  if (!ok) throw MetricsBucketsError(JSON.stringify(list));
  return Object.freeze([...list]);
}

function isRegistry(value: unknown): value is Registry {
  const r = value as Partial<Registry> | undefined;
  return typeof r?.registerMetric === 'function' && typeof r?.getSingleMetric === 'function' && typeof r?.metrics === 'function';
}

/** The methods named under `methods:` by the app's references to the invocation's service. */
function configuredMethods(ctx: ExtensionContext): (invocation: Invocation) => ReadonlySet<string> {
  return (invocation) => {
    const names = new Set<string>();
    let references: Record<string, { interface?: string; version?: string; group?: string; methods?: Record<string, unknown> }> | undefined;
    try {
      references = ctx.inject<{ references?: typeof references }>(CONFIG).references;
    } catch {
      return names;
    }
    for (const r of Object.values(references ?? {})) {
      if (r.interface !== invocation.service || (r.version ?? '') !== invocation.version || (r.group ?? '') !== invocation.group) continue;
      for (const m of Object.keys(r.methods ?? {})) names.add(m);
    }
    return names;
  };
}

function trackerFor(ctx: ExtensionContext, set: MetricSet): ProviderTracker | undefined {
  let events: EventSource;
  try {
    events = ctx.inject<EventSource>(EVENTS);
  } catch {
    return undefined;
  }
  let tracker = trackers.get(events);
  if (tracker === undefined) trackers.set(events, (tracker = new ProviderTracker(events, set, ctx.logger)));
  return tracker;
}

/** Builds the filter from its options (what the plugin's `create` does). */
export function createMetricsFilter(ctx: ExtensionContext): MetricsFilter {
  const o = ctx.options as MetricsOptions;
  const registry = o.registry === undefined ? defaultRegister : o.registry;
  if (!isRegistry(registry)) throw MetricsRegistryError();
  const set = metricSetFor(registry, checkBuckets(o.buckets), ctx.logger);
  if (o.defaultMetrics === true && !withDefaults.has(registry)) {
    withDefaults.add(registry);
    // Another part of the application may have started them already; a second start would throw.
    if (registry.getSingleMetric('process_cpu_user_seconds_total') === undefined) collectDefaultMetrics({ register: registry });
  }
  return new MetricsFilter(set, trackerFor(ctx, set), configuredMethods(ctx), o.undeclaredMethods ?? METRICS_DEFAULTS.undeclaredMethods);
}

export default definePlugin({
  name: '@plexus/filter-metrics',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'metrics',
      optionsSchema: OPTIONS_SCHEMA,
      // Named in `filter:` only (never on by default). Outermost when ordered among defaults.
      activate: { side: ['consumer', 'provider'], order: -3000, stage: 'cluster', keys: [] },
      create: createMetricsFilter,
    },
  ],
});

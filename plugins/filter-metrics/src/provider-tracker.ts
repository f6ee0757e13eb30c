import { URL, type Logger } from '@plexus/kernel/spi';
import type { MetricSet, ProviderSource } from './metric-series';

/** The part of the application's `AppEvents` (token `EVENTS`) this package uses. */
export interface EventSource {
  on(type: string, listener: (event: { readonly type: string; readonly [field: string]: unknown }) => void): void;
  off(type: string, listener: (event: { readonly type: string; readonly [field: string]: unknown }) => void): void;
}

/**
 * A service's methods listed by one provider are taken up to this many: a registry entry is
 * hostile input too, and every name becomes a label value.
 */
export const MAX_LISTED_METHODS = 1024;

/** A warning: a provider listed more than {@link MAX_LISTED_METHODS} methods; the rest count as `other`. */
export const METRICS_METHODS_CAPPED = 'PLEXUS_ERR_METRICS_METHODS_CAPPED';

interface Listed {
  /** How many `provider:up` without a `provider:down` this URL has (two references of one service each report it). */
  refs: number;
  methods: readonly string[];
}

/**
 * The providers each service of one application has, from the kernel's `provider:up` /
 * `provider:down` events: feeds `plexus_providers{service}` and tells the filter which methods the
 * providers declare (the `methods` of their URLs). Scope: one per application; its numbers leave the
 * gauge when the application stops.
 */
export class ProviderTracker implements ProviderSource {
  private readonly byService = new Map<string, Map<string, Listed>>();
  private readonly declared = new Map<string, Set<string>>();

  private readonly up = (e: { readonly [field: string]: unknown }) => this.onUp(e);
  private readonly down = (e: { readonly [field: string]: unknown }) => this.onDown(e);
  private readonly stopped = () => this.detach();

  constructor(
    private readonly events: EventSource,
    private readonly set: MetricSet,
    private readonly logger: Logger,
  ) {
    events.on('provider:up', this.up);
    events.on('provider:down', this.down);
    events.on('app:stopped', this.stopped);
    set.providerSources.add(this);
  }

  *providerCounts(): Iterable<[string, number]> {
    for (const [service, urls] of this.byService) yield [service, urls.size];
  }

  /** The methods providers of `service` declare, or undefined while none listed any. */
  methodsOf(service: string): ReadonlySet<string> | undefined {
    return this.declared.get(service);
  }

  /** Stops listening and takes this application's providers out of the gauge. */
  detach(): void {
    this.events.off('provider:up', this.up);
    this.events.off('provider:down', this.down);
    this.events.off('app:stopped', this.stopped);
    this.set.providerSources.delete(this);
    this.byService.clear();
    this.declared.clear();
  }

  private onUp(e: { readonly [field: string]: unknown }): void {
    const service = e.service;
    const url = e.url;
    if (typeof service !== 'string' || typeof url !== 'string') return;
    let urls = this.byService.get(service);
    if (urls === undefined) this.byService.set(service, (urls = new Map()));
    const known = urls.get(url);
    if (known !== undefined) {
      known.refs++;
      return;
    }
    const methods = listedMethods(url, this.logger);
    urls.set(url, { refs: 1, methods });
    if (methods.length === 0) return;
    let names = this.declared.get(service);
    if (names === undefined) this.declared.set(service, (names = new Set()));
    for (const m of methods) names.add(m);
  }

  private onDown(e: { readonly [field: string]: unknown }): void {
    const service = e.service;
    const url = e.url;
    if (typeof service !== 'string' || typeof url !== 'string') return;
    const urls = this.byService.get(service);
    const known = urls?.get(url);
    if (urls === undefined || known === undefined) return;
    if (--known.refs > 0) return;
    urls.delete(url);
    if (urls.size === 0) this.byService.delete(service);
    // Declared names stay once seen: a label that came and went with a restarting provider keeps its series.
  }
}

function listedMethods(url: string, logger: Logger): readonly string[] {
  let raw: string | undefined;
  try {
    raw = URL.parse(url).getParam('methods');
  } catch {
    return [];
  }
  if (raw === undefined || raw === '') return [];
  const names = raw.split(',').filter((m) => m !== '');
  if (names.length > MAX_LISTED_METHODS) {
    logger.warn(`metrics: provider ${url.slice(0, 200)} lists ${names.length} methods; the first ${MAX_LISTED_METHODS} get their own label, the rest count as "other"`, {
      code: METRICS_METHODS_CAPPED,
    });
    return names.slice(0, MAX_LISTED_METHODS);
  }
  return names;
}

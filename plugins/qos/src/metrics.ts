import { QosHttpErrors } from './errors';

/** The part of prom-client's registry `/metrics` uses. */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
}

let loaded: MetricsRegistry | undefined;

/**
 * prom-client's global default registry, where `@plexus/filter-metrics` registers its metrics.
 * prom-client is an optional peer dependency: loaded on the first scrape, so an application
 * without metrics never pays for it. Throws PLEXUS_ERR_QOS_NO_METRICS (a 404) when it is absent.
 */
export function loadMetrics(): MetricsRegistry {
  if (loaded) return loaded;
  let mod: { register?: MetricsRegistry };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('prom-client') as { register?: MetricsRegistry };
  } catch (err) {
    throw QosHttpErrors.NO_METRICS(((err as Error)?.message ?? String(err)).split('\n')[0]);
  }
  if (!mod.register || typeof mod.register.metrics !== 'function') throw QosHttpErrors.NO_METRICS('it has no default register');
  return (loaded = mod.register);
}

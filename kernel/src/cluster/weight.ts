import type { Invoker } from '../spi/invoker';
import { DEFAULT_WARMUP, DEFAULT_WEIGHT } from '../spi/loadbalance';

/**
 * The largest weight a provider URL can give (Dubbo's weights are Java ints). A URL comes from the
 * registry, so its weight is outside input: capped, the sums a load balancer keeps over a list of
 * providers stay exact and finite (`weight=1e308` twice would otherwise make them Infinity).
 */
const MAX_WEIGHT = 2 ** 31 - 1;

/**
 * A provider's effective weight: its `weight` param (at most 2^31 - 1), reduced while it warms up
 * by `weight × uptime / warmup` (at least 1). Uptime comes from the provider URL's `timestamp`
 * (epoch ms when it started). A weight of 0 stays 0 (the provider is drained).
 */
export function invokerWeight(invoker: Invoker, now = Date.now()): number {
  const url = invoker.url;
  const weight = Math.min(url.getNumber('weight', DEFAULT_WEIGHT), MAX_WEIGHT);
  if (weight <= 0) return 0;
  const started = url.getNumber('timestamp', 0);
  if (started > 0) {
    const uptime = now - started;
    const warmup = url.getNumber('warmup', DEFAULT_WARMUP);
    if (uptime < 0) return 1;
    if (warmup > 0 && uptime < warmup) return Math.max(1, Math.floor((weight * uptime) / warmup));
  }
  return weight;
}

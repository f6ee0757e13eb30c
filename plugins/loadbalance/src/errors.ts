import { defineError } from '@plexus/kernel/spi';

/** Errors of `@plexus/loadbalance`. */
export const LoadBalanceErrors = {
  /**
   * A `hash.arguments` / `hash.nodes` value (or the `hash` mapping) that consistenthash cannot use.
   * Logged once per method as a warning; the default stands in for the bad value.
   */
  HASH_OPTION: defineError(
    'PLEXUS_ERR_LOADBALANCE_HASH_OPTION',
    (method: string, key: string, value: string, fallback: string) =>
      `consistenthash: ${key} of method ${method} is ${JSON.stringify(value)}, which is not usable; using ${fallback}`,
    'hash.arguments is a comma list of argument indexes from 0 to 255 (e.g. "0" or "0,2"); hash.nodes an integer ' +
      'from 1 to 1000 (virtual nodes per provider, default 160). Fix the key in the reference or method config.',
  ),
  /**
   * An option given in code (`new P2cLoadBalance({ decay: 5 })`) out of its range. Options from
   * config are checked by each extension's schema before the balancer is made.
   */
  OPTION: defineError(
    'PLEXUS_ERR_LOADBALANCE_OPTION',
    (balancer: string, option: string, rule: string, value: unknown) => `${balancer}: ${option} must be ${rule}, got ${String(value)}`,
    'See the option table of the @plexus/loadbalance README for each option, its range and its default; leave it unset for the default.',
  ),
} as const;

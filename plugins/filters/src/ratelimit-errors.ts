import { defineError, RpcCode, RpcError, type Invocation } from '@plexus/kernel/spi';

/** The `reason` of the LIMIT_EXCEEDED a call gets when the rate limit has no permit for it. */
export const RATE_LIMITED_REASON = 'PLEXUS_ERR_RATELIMIT_EXCEEDED';

/** Where a call's name comes from in messages: `group/interface:version.method`. */
export const callName = (invocation: Invocation): string => `${invocation.serviceKey || invocation.service}.${invocation.method}`;

/** Framework errors of the `ratelimit` filter. */
export const RateLimitErrors = {
  /**
   * A `tps` value the filter cannot use. Calls of the method are refused with it (a limit that
   * silently did nothing would be worse), and it is logged once.
   */
  CONFIG: defineError(
    'PLEXUS_ERR_RATELIMIT_CONFIG',
    (where: string, problem: string) => `ratelimit: tps of ${where} is not usable: ${problem}`,
    'tps is calls per second (a number > 0; 0 = no limit) or { rate, burst, scope: service|method, shared: redis, redis: host:port, window } — see the Rate limit section of the @plexus/filters README.',
  ),
  /** `shared: redis` without a Redis to share through. */
  NO_REDIS: defineError(
    'PLEXUS_ERR_RATELIMIT_NO_REDIS',
    (where: string) => `ratelimit: tps of ${where} is shared through Redis, but no Redis address is known`,
    'give `redis: host:port` in the tps value or under extensions.filter.ratelimit, or use a registry of type redis (its address is taken).',
  ),
  /** `shared: redis` where the optional `ioredis` package is not installed. */
  NO_CLIENT: defineError(
    'PLEXUS_ERR_RATELIMIT_NO_CLIENT',
    (cause: string) => `ratelimit: a shared limit needs the ioredis package, which cannot be loaded (${cause})`,
    'install it beside @plexus/filters: npm install ioredis',
  ),
  /** Redis could not be used for a shared limit: each process limits on its own until it can. Logged once per outage. */
  SHARED_DOWN: defineError(
    'PLEXUS_ERR_RATELIMIT_SHARED_DOWN',
    (address: string, cause: string) =>
      `ratelimit: the Redis at ${address} that shares rate limits cannot be used (${cause}); each process applies its limit locally until it can`,
    'while Redis is away the cluster as a whole may admit up to (number of processes) × the limit; check that redis-server is running and reachable. The filter returns to the shared limit by itself.',
  ),
} as const;

/** The LIMIT_EXCEEDED of a refused call: retryable on the provider (another node may have room), not on the consumer. */
export function rateLimited(invocation: Invocation, rate: number, side: 'consumer' | 'provider', shared: boolean): RpcError {
  return new RpcError(
    `rate limit reached: ${callName(invocation)} admits ${rate} call${rate === 1 ? '' : 's'}/s${shared ? ' across the cluster' : ''} on the ${side}` +
      (side === 'provider'
        ? '\n  hint: the call may be retried on another provider; raise `tps` on the service, add providers, or slow the callers down.'
        : '\n  hint: this process calls faster than its reference allows; raise `tps` on the reference or slow the caller down.'),
    RpcCode.LIMIT_EXCEEDED,
    { retryable: side === 'provider', reason: RATE_LIMITED_REASON },
  );
}

/** A configuration problem of the limit, given to each call of the method (not retryable). */
export function configRefusal(err: Error & { code?: string }): RpcError {
  return new RpcError(err.message, RpcCode.SERVER_ERROR, { retryable: false, reason: err.code, cause: err });
}

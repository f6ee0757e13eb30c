import { defineError, RpcCode, RpcError, streamArgIndex, type Invocation } from '@plexus/kernel/spi';

/** The `reason` of the error a cluster raises when the directory has no provider. */
export const NO_PROVIDER_REASON = 'PLEXUS_ERR_CLUSTER_NO_PROVIDER';
/** The `reason` a forking loser is cancelled with once another fork answered. */
export const FORK_LOST_REASON = 'PLEXUS_ERR_CLUSTER_FORK_LOST';
/** The `reason` of the error broadcast raises when some providers failed. */
export const BROADCAST_REASON = 'PLEXUS_ERR_CLUSTER_BROADCAST';
/** The `reason` of the error failback raises when its retry queue is full. */
export const FAILBACK_FULL_REASON = 'PLEXUS_ERR_CLUSTER_FAILBACK_FULL';

const nameOf = (invocation: Invocation): string => `${invocation.serviceKey || invocation.service}.${invocation.method}`;

/**
 * Errors of `@plexus/cluster` that are logged rather than thrown at a caller (the caller of
 * failsafe and failback gets an empty result, so the log is where a failure shows).
 */
export const ClusterErrors = {
  /** A `forks` or `sticky` value the clusters cannot use; logged once per method, the default stands in. */
  OPTION: defineError(
    'PLEXUS_ERR_CLUSTER_OPTION',
    (method: string, key: string, value: string, fallback: string) =>
      `cluster: ${key} of method ${method} is ${JSON.stringify(value)}, which is not usable; using ${fallback}`,
    'forks is an integer from 1 up (the number of providers called at once by the forking cluster, default 2); ' +
      'sticky is true or false. Fix the key in the reference or method config.',
  ),
  /** failsafe swallowed a failure: the caller got an empty result. */
  FAILSAFE_IGNORED: defineError(
    'PLEXUS_ERR_CLUSTER_FAILSAFE_IGNORED',
    (invocation: Invocation, cause: string) => `failsafe: ${nameOf(invocation)} failed and was ignored (the caller got an empty result): ${cause}`,
    'failsafe is for calls whose failure does not matter (audit logs, metrics). If the failures matter, use ' +
      'failover or failback for this method; otherwise fix the provider named in the cause.',
  ),
  /** failback gave a queued call up: a retry failed with an error no retry can fix, or `maxAttempts` ran out. */
  FAILBACK_DROPPED: defineError(
    'PLEXUS_ERR_CLUSTER_FAILBACK_DROPPED',
    (invocation: Invocation, retries: number, why: string) => `failback: gave up ${nameOf(invocation)} after ${retries} retr${retries === 1 ? 'y' : 'ies'}: ${why}`,
    'The call was not delivered. Check the provider named in the cause; raise extensions.cluster.failback.maxAttempts ' +
      '(0 = retry until the process stops) if the providers are only away for longer.',
  ),
  /** failback options given in code that it cannot use (config is checked by the options schema first). */
  FAILBACK_OPTION: defineError(
    'PLEXUS_ERR_CLUSTER_FAILBACK_OPTION',
    (key: string, value: unknown, expected: string) => `failback: option ${key} is ${JSON.stringify(value)}; expected ${expected}`,
    'Fix extensions.cluster.failback: queueSize is an integer from 1, retryInterval an integer number of ms from 1, ' +
      'maxAttempts an integer from 0 (0 = retry until delivered or the process stops).',
  ),
  /** failback still held queued calls when its cluster was closed (application stopped). */
  FAILBACK_ABANDONED: defineError(
    'PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED',
    (service: string, count: number, calls: string) =>
      `failback: ${count} failed call${count === 1 ? '' : 's'} of ${service} ${count === 1 ? 'was' : 'were'} still queued for retry ` +
      `when the cluster closed and will not be delivered: ${calls}`,
    'The retry queue lives in memory only. Stop the application after the providers are back, or use failover ' +
      'for calls that must be delivered before the process ends.',
  ),
} as const;

/** The NO_PROVIDER error for a call, with what to check. */
export function noProviderError(consumer: string, invocation: Invocation, detail = '', suspended = false): RpcError {
  const key = invocation.serviceKey || invocation.service;
  const hint = suspended
    ? '\n  hint: a circuit breaker or health check took them out; they return by themselves once probes succeed (see the circuitbreaker and health sections of the @plexus/filters README).'
    : `\n  hint: check that a provider of ${key} is running and registered in the registry this consumer uses, ` +
      'that its version and group match the reference, and that a direct `url:` points at the right host and port.';
  return new RpcError(
    `No provider available for ${key} (method ${invocation.method}) from consumer ${consumer}${detail}` + hint,
    RpcCode.NO_PROVIDER,
    { reason: NO_PROVIDER_REASON },
  );
}

/** The error failback rejects a call with when its queue is full (`cause`: the call's own failure). */
export function failbackFullError(invocation: Invocation, queueSize: number, cause: RpcError): RpcError {
  return new RpcError(
    `failback: ${nameOf(invocation)} failed (${cause.message.split('\n')[0]}) and the retry queue is full ` +
      `(${queueSize} calls wait for retry); this call will not be retried` +
      '\n  hint: the providers have been failing for a while: check them; raise extensions.cluster.failback.queueSize ' +
      'if bursts are expected, or retry this call yourself.',
    RpcCode.LIMIT_EXCEEDED,
    { reason: FAILBACK_FULL_REASON, cause },
  );
}

/** The error a forking loser is cancelled with. */
export function forkLostError(invocation: Invocation): RpcError {
  return new RpcError(`forking: another provider answered ${nameOf(invocation)} first`, RpcCode.CANCELLED, { reason: FORK_LOST_REASON });
}

/**
 * A call that sends a client stream (an `AsyncIterable` argument) cannot be sent again: the first
 * attempt read the caller's stream. Such calls are never retried, queued or sent twice.
 */
export function sendsStream(invocation: Invocation): boolean {
  return streamArgIndex(invocation.args) >= 0;
}

/** The error of a policy that would send one client stream to several providers (forking, broadcast). */
export function streamFanOutError(invocation: Invocation, policy: string): RpcError {
  return new RpcError(
    `${nameOf(invocation)} sends a stream argument, which the ${policy} cluster cannot send to several providers` +
      '\n  hint: use cluster: failover or failfast for this method (a client stream goes to one provider).',
    RpcCode.BAD_REQUEST,
    { reason: 'PLEXUS_ERR_CLUSTER_STREAM_FAN_OUT', retryable: false },
  );
}

/** Is `err` a business error (the implementation threw)? Those are answers, never retried. */
export function isBusinessError(err: unknown): boolean {
  return RpcError.is(err) && err.code === RpcCode.SERVICE_ERROR;
}

/** May another attempt (on another provider, or later) help with `err`? Never for business errors. */
export function isRetryable(err: unknown): err is RpcError {
  return RpcError.is(err) && err.retryable === true && err.code !== RpcCode.SERVICE_ERROR;
}

/** A short description of any rejection value, for logs and summaries. */
export function describe(err: unknown): string {
  // RpcError.from never throws, whatever was rejected with (hostile getters, symbols, null).
  const e = RpcError.from(err);
  return `${e.code}: ${e.message.split('\n')[0]}`;
}

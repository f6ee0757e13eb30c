import { defineError, RpcCode, RpcError, type Invocation } from '@plexus/kernel/spi';

/** The `reason` of the LIMIT_EXCEEDED a provider answers when `executes` calls of the method already run. */
export const EXECUTES_REASON = 'PLEXUS_ERR_CONCURRENCY_EXECUTES';
/** The `reason` of the LIMIT_EXCEEDED a consumer call gets when no `actives` slot freed before its deadline. */
export const ACTIVES_REASON = 'PLEXUS_ERR_CONCURRENCY_ACTIVES';

const nameOf = (invocation: Invocation): string => `${invocation.serviceKey || invocation.service}.${invocation.method}`;

/** Framework errors of the `concurrency` filter. */
export const ConcurrencyErrors = {
  /** An `actives` or `executes` value that is not a whole number; calls of the method are refused with it. */
  CONFIG: defineError(
    'PLEXUS_ERR_CONCURRENCY_CONFIG',
    (key: string, where: string, value: string) => `concurrency: ${key} of ${where} is ${JSON.stringify(value)}, which is not a whole number of calls`,
    'actives (consumer) and executes (provider) are whole numbers of calls in flight per method, 0 = no limit.',
  ),
} as const;

/** The provider's refusal: retryable, since another provider may have room. */
export function executesExceeded(invocation: Invocation, limit: number): RpcError {
  return new RpcError(
    `concurrency limit reached: ${nameOf(invocation)} already runs ${limit} call${limit === 1 ? '' : 's'} (executes: ${limit})` +
      '\n  hint: the call may be retried on another provider; raise `executes` for the method, add providers, or make the method faster.',
    RpcCode.LIMIT_EXCEEDED,
    { retryable: true, reason: EXECUTES_REASON },
  );
}

/** The consumer's refusal after waiting up to the call's deadline for a slot. */
export function activesExceeded(invocation: Invocation, limit: number, waitedMs: number): RpcError {
  return new RpcError(
    `concurrency limit reached: no free slot of actives: ${limit} for ${nameOf(invocation)} within ${waitedMs} ms (the call's deadline)` +
      '\n  hint: this process has too many calls of the method in flight; raise `actives` on the reference or method, raise its timeout, or call less at once.',
    RpcCode.LIMIT_EXCEEDED,
    { retryable: false, reason: ACTIVES_REASON },
  );
}

import { defineError, RpcCode, RpcError, type Invocation } from '@plexus/kernel/spi';

/** The `reason` of the FORBIDDEN a provider answers a call without the service's token. */
export const TOKEN_MISSING_REASON = 'PLEXUS_ERR_TOKEN_MISSING';
/** The `reason` of the FORBIDDEN a provider answers a call whose token does not match. */
export const TOKEN_MISMATCH_REASON = 'PLEXUS_ERR_TOKEN_MISMATCH';

/** Framework errors of the `token` filter. */
export const TokenErrors = {
  /**
   * `token: true` reached a call without a generated token in its place (an exporter that does not
   * generate one). Calls are refused rather than served unchecked.
   */
  NOT_GENERATED: defineError(
    'PLEXUS_ERR_TOKEN_NOT_GENERATED',
    (where: string) => `token: ${where} says token: true, but no token was generated when it was exported`,
    'use a @plexus/kernel that generates tokens on export (0.1.0 or later), or give the token as a string.',
  ),
} as const;

const nameOf = (invocation: Invocation): string => `${invocation.serviceKey || invocation.service}.${invocation.method}`;

/** A refused call. Never names the expected token, nor echoes the one given. */
export function forbidden(invocation: Invocation, given: boolean): RpcError {
  return new RpcError(
    given
      ? `token refused: the token sent for ${nameOf(invocation)} does not match the provider's` +
          '\n  hint: the provider restarted with a new generated token, or the caller uses an old or wrong one; call through the registry, which publishes the current token.'
      : `token required: ${nameOf(invocation)} accepts only calls that carry the service's token` +
          '\n  hint: call it through the registry (the consumer takes the token from the provider\'s URL), or give the token to a direct reference: url: plexus://host:port?token=<token> or token: <token> on the reference.',
    RpcCode.FORBIDDEN,
    { retryable: false, reason: given ? TOKEN_MISMATCH_REASON : TOKEN_MISSING_REASON },
  );
}

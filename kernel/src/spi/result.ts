/**
 * What a successful call yields. Failures are never Results: every layer rejects with an
 * `RpcError` instead, so filters see errors in `catch` and values in `then`.
 */
export interface Result {
  readonly value: unknown;
  /** Attachments returned by the provider. */
  readonly attachments?: Record<string, string>;
}

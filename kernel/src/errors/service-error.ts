import { RpcError } from './rpc-error';
import type { Invocation } from '../spi/invocation';

/**
 * What a provider implementation threw or rejected with, as the coded error the caller gets:
 * `RpcError.fromThrown` (an `RpcError` keeps its code; anything else becomes SERVICE_ERROR with the
 * original message and name, a string or number `code` in `data.code`, the implementation's own
 * stack — never this converter's; it never throws, whatever the value). When the value had no
 * stack, the stack names the call it came from.
 */
export function serviceError(thrown: unknown, inv?: Invocation): RpcError {
  const err = RpcError.fromThrown(thrown);
  if (err === thrown) return err;
  let hasStack = false;
  try {
    hasStack = typeof (thrown as { stack?: unknown })?.stack === 'string';
  } catch {
    // a getter that throws: no stack of its own
  }
  if (!hasStack) err.stack = `${err.remoteName ?? 'Error'}: ${err.message}\n    at ${inv ? `${inv.serviceKey}.${inv.method}` : 'the implementation'}`;
  return err;
}

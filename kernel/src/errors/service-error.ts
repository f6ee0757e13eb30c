import { RpcCode, RpcError } from './rpc-error';
import type { Invocation } from '../spi/invocation';

/** Reads `value[key]` without letting a throwing getter or Proxy trap escape. */
function read(value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return undefined;
}

function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'symbol':
      return value.description !== undefined ? `Symbol(${value.description})` : 'Symbol()';
    case 'bigint':
    case 'number':
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    case 'function':
      return `a function ${text(read(value, 'name')) ?? ''}`.trim();
    default:
      return value === null ? 'null' : 'an object without a message';
  }
}

/**
 * What a provider implementation threw or rejected with, as the coded error the caller gets:
 * an `RpcError` keeps its code; anything else becomes SERVICE_ERROR with the original message and
 * name, and a string or number `code` kept in `data.code` (`throw { code: 'E42', message }` works
 * as well as an Error). Never throws, whatever the value: getters that throw, Proxies, symbols,
 * null-prototype or circular objects all become an error with a readable message.
 */
export function serviceError(thrown: unknown, inv?: Invocation): RpcError {
  let isRpc = false;
  try {
    isRpc = RpcError.is(thrown);
  } catch {
    // a Proxy that throws on every trap: not ours
  }
  if (isRpc) return thrown as RpcError;
  const isObject = typeof thrown === 'object' && thrown !== null;
  const message = (isObject ? text(read(thrown, 'message')) : undefined) ?? describe(thrown);
  const rawCode = isObject ? read(thrown, 'code') : undefined;
  const code = typeof rawCode === 'string' || typeof rawCode === 'number' ? rawCode : undefined;
  const err = new RpcError(message, RpcCode.SERVICE_ERROR, {
    cause: thrown,
    data: code !== undefined ? { code } : undefined,
  });
  const name = isObject ? text(read(thrown, 'name')) : undefined;
  if (name !== undefined && name !== 'Error') err.remoteName = name;
  const stack = isObject ? text(read(thrown, 'stack')) : undefined;
  // The implementation's own stack, not this converter's (it is what `sendStack` sends).
  err.stack = stack ?? `${name ?? 'Error'}: ${message}\n    at ${inv ? `${inv.serviceKey}.${inv.method}` : 'the implementation'}`;
  return err;
}

/**
 * The one error type that crosses the wire. A closed set of codes, a retryable flag, and a wire
 * form that carries no stack unless asked to.
 */
export const RpcCode = {
  /** The consumer's deadline passed before a response arrived. */
  TIMEOUT: 'TIMEOUT',
  /** The provider gave up on the call because its deadline had passed. */
  SERVER_TIMEOUT: 'SERVER_TIMEOUT',
  /** The request could not be decoded or was refused before running (size, bad header). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** The response could not be decoded. */
  BAD_RESPONSE: 'BAD_RESPONSE',
  /** No exported service matches the service key. */
  SERVICE_NOT_FOUND: 'SERVICE_NOT_FOUND',
  /** The service exists but does not declare the method. */
  METHOD_NOT_FOUND: 'METHOD_NOT_FOUND',
  /** The implementation threw: a business error, passed through unchanged. */
  SERVICE_ERROR: 'SERVICE_ERROR',
  /** The provider failed outside the implementation. */
  SERVER_ERROR: 'SERVER_ERROR',
  /** The provider's executor had no room for the call. Retryable elsewhere. */
  EXECUTOR_EXHAUSTED: 'EXECUTOR_EXHAUSTED',
  /** The provider is shutting down. Retryable elsewhere. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The connection failed or closed before a response. Retryable. */
  NETWORK: 'NETWORK',
  /** The directory holds no usable provider. */
  NO_PROVIDER: 'NO_PROVIDER',
  /** A rate, concurrency or circuit limit refused the call. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** A token or permission check refused the call. */
  FORBIDDEN: 'FORBIDDEN',
  /** The message exceeds the configured payload limit. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The serializer or compressor failed or is unknown to the peer. */
  SERIALIZATION: 'SERIALIZATION',
  /** The call was cancelled locally (reference destroyed, app stopped). */
  CANCELLED: 'CANCELLED',
  /** Anything else. */
  UNKNOWN: 'UNKNOWN',
} as const;
export type RpcCode = (typeof RpcCode)[keyof typeof RpcCode];

const RETRYABLE_BY_DEFAULT: ReadonlySet<RpcCode> = new Set<RpcCode>([
  RpcCode.TIMEOUT,
  // The provider's own timeout passed: another node may answer within what is left of the call's
  // budget (the cluster never starts an attempt past the deadline, nor retries idempotent: false).
  RpcCode.SERVER_TIMEOUT,
  RpcCode.NETWORK,
  RpcCode.EXECUTOR_EXHAUSTED,
  RpcCode.SHUTTING_DOWN,
  RpcCode.NO_PROVIDER,
]);

const BRAND = Symbol.for('plexus.RpcError');

export interface RpcErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Extra structured data that travels with the error (must be serializable). */
  data?: Record<string, unknown>;
  /** A framework error code (`PLEXUS_ERR_*`) that explains the cause in more detail. */
  reason?: string;
  /** Where the error was raised, e.g. the provider address. */
  remote?: string;
}

/** The wire form of an error: no stack unless the provider was configured to send it. */
export interface RpcErrorWire {
  code: RpcCode;
  message: string;
  name?: string;
  reason?: string;
  data?: Record<string, unknown>;
  stack?: string;
  /** Sent only when it differs from the code's default (a provider's retryable LIMIT_EXCEEDED). */
  retryable?: boolean;
}

/**
 * An error raised by a remote call. `code` is one of {@link RpcCode}; business errors thrown by an
 * implementation arrive as `SERVICE_ERROR` with the original `name` and message.
 */
export class RpcError extends Error {
  readonly code: RpcCode;
  readonly retryable: boolean;
  readonly data?: Record<string, unknown>;
  readonly reason?: string;
  remote?: string;
  /** The name of the original error when it came from an implementation. */
  remoteName?: string;

  constructor(message: string, code: RpcCode = RpcCode.UNKNOWN, options: RpcErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    if (options.data !== undefined) this.data = options.data;
    if (options.reason !== undefined) this.reason = options.reason;
    if (options.remote !== undefined) this.remote = options.remote;
  }

  override get name(): string {
    return 'RpcError';
  }

  /** Works across duplicate installs of the kernel, where `instanceof` would not. */
  static is(value: unknown): value is RpcError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /**
   * Wraps anything thrown into an RpcError with `code`, keeping RpcErrors as they are. Never
   * throws, whatever the value (see {@link RpcError.fromThrown}).
   */
  static from(value: unknown, code: RpcCode = RpcCode.UNKNOWN): RpcError {
    return RpcError.fromThrown(value, code);
  }

  /**
   * What an implementation (or any code) threw or rejected with, as an RpcError; an RpcError is
   * returned as it is. Anything else gets `code` (default `SERVICE_ERROR`: a business error) with
   * the value's own message, its `name` as `remoteName` (unless plain `Error`), a string or number
   * `code` property kept as `data.code` (so `throw { code: 'E42', message: 'no stock' }` arrives
   * as such, not as "[object Object]"), and its stack when it has one.
   *
   * Never throws: getters that throw, Proxies that throw on every trap, null-prototype and
   * circular objects, symbols and bigints all give an error with a readable message. Objects
   * without a message are described by a bounded JSON view (at most 64 members, 200 characters).
   */
  static fromThrown(value: unknown, code: RpcCode = RpcCode.SERVICE_ERROR): RpcError {
    let isRpc = false;
    try {
      isRpc = RpcError.is(value);
    } catch {
      // a Proxy whose traps throw is not one of ours
    }
    if (isRpc) return value as RpcError;
    const isObject = (typeof value === 'object' && value !== null) || typeof value === 'function';
    const message = (isObject ? textOf(readSafely(value, 'message')) : undefined) ?? describeThrown(value);
    const rawCode = isObject ? readSafely(value, 'code') : undefined;
    const dataCode = typeof rawCode === 'string' || (typeof rawCode === 'number' && Number.isFinite(rawCode)) ? rawCode : undefined;
    const err = new RpcError(message, code, { cause: value, data: dataCode !== undefined ? { code: dataCode } : undefined });
    const name = isObject ? textOf(readSafely(value, 'name')) : undefined;
    if (name !== undefined && name !== '' && name !== 'Error') err.remoteName = name;
    const stack = isObject ? readSafely(value, 'stack') : undefined;
    if (typeof stack === 'string') err.stack = stack;
    return err;
  }

  /** The wire form; the stack is included only when `withStack` is set. */
  toWire(withStack = false): RpcErrorWire {
    const wire: RpcErrorWire = { code: this.code, message: this.message };
    if (this.remoteName !== undefined) wire.name = this.remoteName;
    if (this.reason !== undefined) wire.reason = this.reason;
    if (this.data !== undefined) wire.data = this.data;
    if (withStack && this.stack) wire.stack = this.stack;
    if (this.retryable !== RETRYABLE_BY_DEFAULT.has(this.code)) wire.retryable = this.retryable;
    return wire;
  }

  /** Rebuilds an error received from a peer; unknown codes become UNKNOWN. */
  static fromWire(wire: unknown, remote?: string): RpcError {
    const w = (typeof wire === 'object' && wire !== null ? wire : {}) as Partial<RpcErrorWire>;
    const code = isRpcCode(w.code) ? w.code : RpcCode.UNKNOWN;
    const message = typeof w.message === 'string' ? w.message : 'remote error without a message';
    const err = new RpcError(message, code, {
      reason: typeof w.reason === 'string' ? w.reason : undefined,
      data: typeof w.data === 'object' && w.data !== null ? w.data : undefined,
      remote,
      // A business error is never retryable, whatever a peer says: failover must not repeat it.
      retryable: typeof w.retryable === 'boolean' && code !== RpcCode.SERVICE_ERROR ? w.retryable : undefined,
    });
    if (typeof w.name === 'string') err.remoteName = w.name;
    if (typeof w.stack === 'string') err.stack = `${err.stack}\n    --- remote stack ---\n${w.stack}`;
    return err;
  }
}
Object.defineProperty(RpcError.prototype, BRAND, { value: true });

const CODES = new Set<string>(Object.values(RpcCode));
export function isRpcCode(value: unknown): value is RpcCode {
  return typeof value === 'string' && CODES.has(value);
}

/** `value[key]`, or undefined when reading it throws (a getter, a Proxy trap). */
function readSafely(value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return undefined;
}

const DESCRIBE_MEMBERS = 64;
const DESCRIBE_CHARS = 200;

/** A plain copy of `value` holding at most `budget.left` members in all, four levels deep. */
function boundedView(value: unknown, budget: { left: number; seen?: Set<object> }, depth: number): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 4) return '…';
  const seen = (budget.seen ??= new Set());
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length && budget.left > 0; i++) {
      budget.left--;
      out.push(boundedView(readSafely(value, String(i)), budget, depth + 1));
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (budget.left <= 0) break;
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    budget.left--;
    out[key] = boundedView(readSafely(value, key), budget, depth + 1);
  }
  return out;
}

/** A readable, bounded description of a thrown value that has no message; never throws. */
function describeThrown(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'symbol':
      return value.description !== undefined ? `Symbol(${value.description})` : 'Symbol()';
    case 'bigint':
      return `${value}n`;
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'function': {
      const name = textOf(readSafely(value, 'name'));
      return name ? `a function ${name}` : 'a function';
    }
    default:
      if (value === null) return 'null';
      try {
        // At most DESCRIBE_MEMBERS members are read, however large the object: its cost is bounded.
        const json = JSON.stringify(boundedView(value, { left: DESCRIBE_MEMBERS }, 0));
        if (typeof json === 'string' && json !== '{}') return json.length > DESCRIBE_CHARS ? `${json.slice(0, DESCRIBE_CHARS)}…` : json;
      } catch {
        // a throwing getter or ownKeys trap (a Proxy)
      }
      return 'a thrown object without a message';
  }
}

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

  /** Wraps anything thrown into an RpcError, keeping RpcErrors as they are. */
  static from(value: unknown, code: RpcCode = RpcCode.UNKNOWN): RpcError {
    if (RpcError.is(value)) return value;
    if (value instanceof Error) {
      const err = new RpcError(value.message, code, { cause: value });
      if (value.name && value.name !== 'Error') err.remoteName = value.name;
      return err;
    }
    return new RpcError(typeof value === 'string' ? value : safeString(value), code, { cause: value });
  }

  /** The wire form; the stack is included only when `withStack` is set. */
  toWire(withStack = false): RpcErrorWire {
    const wire: RpcErrorWire = { code: this.code, message: this.message };
    if (this.remoteName !== undefined) wire.name = this.remoteName;
    if (this.reason !== undefined) wire.reason = this.reason;
    if (this.data !== undefined) wire.data = this.data;
    if (withStack && this.stack) wire.stack = this.stack;
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

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

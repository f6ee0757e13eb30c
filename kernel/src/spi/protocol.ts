import type { URL } from '../url/url';
import type { Invocation } from './invocation';
import type { Exporter, Invoker } from './invoker';
import type { Result } from './result';

export const PROTOCOL = Symbol.for('plexus.protocol');
export const DEFAULT_PROTOCOL = 'plexus';

/** A decoded request as a protocol hands it to the service it names. */
export interface ProviderRequest {
  /** The method's name, or its index in `ServiceInvoker.methods`. */
  method: string | number;
  args: unknown[];
  attachments: Record<string, string>;
  /** The consumer's address, for `Plexus.context().remoteAddress`. */
  remoteAddress: string;
  /** The consumer's remaining budget in ms, as the request carried it; 0 or absent = none. */
  timeout?: number;
  /**
   * The caller holds the call to the consumer's deadline and cancels it when it passes (injvm
   * does; the plexus protocol's consumers send a cancel frame): the provider then keeps a timer
   * only for its own `timeout`, and only when that ends first. Without it the provider also
   * enforces the consumer's remaining budget itself.
   */
  callerWatches?: boolean;
}

/**
 * The provider side of one exported service, as the kernel hands it to a protocol: the provider
 * filter chain, then the executor, then the method table. The kernel enforces the call's deadline
 * (the consumer's remaining budget and the provider's own `timeout`, whichever ends first) and
 * answers `SERVER_TIMEOUT` when it passes; the protocol cancels the invocation when the consumer
 * cancels or the connection drops.
 */
export interface ServiceInvoker extends Invoker {
  readonly serviceKey: string;
  /** Declared method names; a method's index on the wire is its position here. */
  readonly methods: readonly string[];
  /**
   * Builds the provider-side invocation of a decoded request. Throws an `RpcError`
   * (`METHOD_NOT_FOUND`) for a method the service does not declare.
   */
  createInvocation(request: ProviderRequest): Invocation;
  /**
   * Optional, cheaper form of `invoke` for protocols: runs the call and reports its end to `reply`
   * exactly once — its result, its error, or `SERVER_TIMEOUT` when the provider's own deadline
   * passes first (the invocation is then cancelled and the late outcome dropped). No promise is
   * handed back, so the protocol's continuation costs none (on the provider every promise also pays
   * the call context's async hooks). `reply` may be called before `dispatch` returns.
   */
  dispatch?(invocation: Invocation, reply: CallReply): void;
}

/**
 * Where `ServiceInvoker.dispatch` reports a call's end, once, by calling one of its methods on it
 * (`reply.resolved(result)`): a reply may be a plain class with prototype methods, so a call
 * answered at once costs no closure. Whoever hands them to `promise.then` wraps them.
 */
export interface CallReply {
  resolved(result: Result): void;
  rejected(error: unknown): void;
}

/**
 * A wire protocol. Scope: one instance per application, shared by every service and reference;
 * it owns the servers it opened and the client connections (one multiplexed connection per
 * provider address, shared by all references).
 */
export interface Protocol {
  readonly defaultPort: number;
  /** Opens (or reuses) the server at `url`'s address and routes calls for its service key. */
  export(service: ServiceInvoker, url: URL): Promise<Exporter>;
  /** An invoker for one provider; connects lazily and shares the connection per address. */
  refer(url: URL): Invoker;
  /**
   * Graceful shutdown, step one: tell connected consumers this provider is closing and answer new
   * requests with `SHUTTING_DOWN`. Resolves once in-flight requests finished or `timeoutMs` passed.
   */
  drain?(timeoutMs: number): Promise<void>;
  /** Closes servers and client connections; pending calls fail with `CANCELLED`. */
  destroy(): Promise<void>;
}

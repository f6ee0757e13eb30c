import type { URL } from '../url/url';
import type { Invocation } from './invocation';
import type { Exporter, Invoker } from './invoker';

export const PROTOCOL = Symbol.for('plexus.protocol');
export const DEFAULT_PROTOCOL = 'plexus';

/**
 * The provider side of one exported service, as the kernel hands it to a protocol: the provider
 * filter chain wrapped in the executor, plus the method table to decode calls with.
 */
export interface ServiceInvoker extends Invoker {
  readonly serviceKey: string;
  /** Declared method names; a method's index on the wire is its position here. */
  readonly methods: readonly string[];
  /**
   * Builds the provider-side invocation of a decoded request. Throws an `RpcError`
   * (`METHOD_NOT_FOUND`) for a method the service does not declare.
   */
  createInvocation(
    method: string | number,
    args: unknown[],
    attachments: Record<string, string>,
    remoteAddress: string,
  ): Invocation;
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

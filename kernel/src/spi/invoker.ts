import type { URL } from '../url/url';
import type { Invocation } from './invocation';
import type { Result } from './result';

/**
 * The one shape every layer speaks: proxy, filters, cluster, protocol. Composed once per
 * reference or service, then called concurrently for every call. Rejects with an `RpcError`.
 */
export interface Invoker {
  readonly url: URL;
  invoke(invocation: Invocation): Promise<Result>;
  /** False once the target is known to be unusable (closed connection, shutting down). */
  isAvailable?(): boolean;
  /**
   * Whether `method` answers with a stream, when the invoker knows it from a service description
   * (a `.proto`); undefined when it does not know. A reference's proxy then returns that method's
   * stream at once, as `stream: true` would. Wrappers pass it on.
   */
  streams?(method: string): boolean | undefined;
  destroy?(): Promise<void> | void;
}

/** A service exported by a protocol; `unexport` stops routing calls to it. */
export interface Exporter {
  readonly url: URL;
  readonly invoker: Invoker;
  unexport(): Promise<void>;
}

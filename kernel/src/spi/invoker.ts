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
  destroy?(): Promise<void> | void;
}

/** A service exported by a protocol; `unexport` stops routing calls to it. */
export interface Exporter {
  readonly url: URL;
  readonly invoker: Invoker;
  unexport(): Promise<void>;
}

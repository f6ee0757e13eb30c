import type { Directory } from './directory';
import type { Invoker } from './invoker';
import type { LoadBalance } from './loadbalance';
import type { Invocation } from './invocation';

export const CLUSTER = Symbol.for('plexus.cluster');
export const DEFAULT_CLUSTER = 'failover';

/**
 * A fault-tolerance policy: joins a directory into one invoker. Scope: one instance per
 * application; `join` runs once per reference and method policy. The returned invoker is called
 * concurrently; it picks providers with the load balancer from `ClusterSupport.loadBalance`.
 * Business errors (`SERVICE_ERROR`) always pass through unchanged; only `retryable` errors are retried.
 */
export interface Cluster {
  join(directory: Directory, support: ClusterSupport): Invoker;
}

/** What the kernel hands a cluster when joining: how to get the call's load balancer. */
export interface ClusterSupport {
  /** The load balancer named by the call's effective `loadbalance` (cached per method). */
  loadBalance(invocation: Invocation): LoadBalance;
}

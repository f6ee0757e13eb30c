/**
 * `@plexus/cluster` — the fault-tolerance policies: `failover` (default), `failfast`, `failsafe`,
 * `failback`, `forking`, `broadcast`, `available`. Each module's default export declares its
 * extension; this entry only re-exports the classes.
 */
export { AbstractClusterInvoker, EMPTY_RESULT, attemptOf, releaseAttempt, type ClusterOptions } from './abstract-cluster-invoker';
export { FailoverCluster, FailoverClusterInvoker } from './failover-cluster';
export { FailfastCluster, FailfastClusterInvoker } from './failfast-cluster';
export { FailsafeCluster, FailsafeClusterInvoker } from './failsafe-cluster';
export {
  FailbackCluster,
  FailbackClusterInvoker,
  DEFAULT_QUEUE_SIZE,
  DEFAULT_RETRY_INTERVAL,
  DEFAULT_MAX_ATTEMPTS,
  MAX_BACKOFF_MS,
  type FailbackOptions,
} from './failback-cluster';
export { ForkingCluster, ForkingClusterInvoker } from './forking-cluster';
export { BroadcastCluster, BroadcastClusterInvoker } from './broadcast-cluster';
export { AvailableCluster, AvailableClusterInvoker } from './available-cluster';
export { DEFAULT_FORKS } from './params';
export { ClusterErrors, NO_PROVIDER_REASON, FORK_LOST_REASON, BROADCAST_REASON, FAILBACK_FULL_REASON } from './errors';

/** `@plexus/cluster` — the `failover` and `failfast` fault-tolerance policies. */
export { FailoverCluster, FailoverClusterInvoker } from './failover-cluster';
export { FailfastCluster, FailfastClusterInvoker } from './failfast-cluster';
export { NO_PROVIDER_REASON } from './select';

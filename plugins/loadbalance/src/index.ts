/**
 * `@plexus/loadbalance` — the load balancers: `random`, `roundrobin`, `leastactive`,
 * `shortestresponse`, `consistenthash` and `p2c`. Each lives in its own module, named in this
 * package's manifest and imported only when a config selects it; this entry only re-exports them.
 */
export { RandomLoadBalance, type RandomOptions } from './random-load-balance';
export { RoundRobinLoadBalance, ROUND_ROBIN_RECYCLE_MS, type RoundRobinOptions } from './round-robin-load-balance';
export { LeastActiveLoadBalance, type LeastActiveOptions } from './least-active-load-balance';
export {
  ShortestResponseLoadBalance,
  SHORTEST_RESPONSE_WINDOW_MS,
  type ShortestResponseOptions,
} from './shortest-response-load-balance';
export {
  ConsistentHashLoadBalance,
  CONSISTENT_HASH_NODES,
  CONSISTENT_HASH_MAX_NODES,
  CONSISTENT_HASH_MAX_ARGUMENTS,
  CONSISTENT_HASH_MAX_INDEX,
  keyHash,
  parseHashSettings,
  type ConsistentHashOptions,
  type HashSettings,
} from './consistent-hash-load-balance';
export { P2cLoadBalance, P2C_DECAY, P2C_PROBE_MS, type P2cOptions } from './p2c-load-balance';
export { WARMUP_REFRESH_MS } from './weight-table';
export { STATS_RECYCLE_MS } from './node-stats';
export { LoadBalanceErrors } from './errors';

/** `@plexus/loadbalance` — the `random` and `roundrobin` load balancers. */
export { RandomLoadBalance } from './random-load-balance';
export { RoundRobinLoadBalance, ROUND_ROBIN_RECYCLE_MS, type RoundRobinOptions } from './round-robin-load-balance';

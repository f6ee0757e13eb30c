import { loadBalanceContract } from '@plexus/kernel/testing';
import { LeastActiveLoadBalance } from '../src/least-active-load-balance';

loadBalanceContract('leastactive', () => new LeastActiveLoadBalance());

import { loadBalanceContract } from '@plexus/kernel/testing';
import { ConsistentHashLoadBalance } from '../src/consistent-hash-load-balance';

loadBalanceContract('consistenthash', () => new ConsistentHashLoadBalance(), { weighted: false });

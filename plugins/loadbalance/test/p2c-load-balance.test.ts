import { loadBalanceContract } from '@plexus/kernel/testing';
import { P2cLoadBalance } from '../src/p2c-load-balance';

loadBalanceContract('p2c', () => new P2cLoadBalance());

import { loadBalanceContract } from '@plexus/kernel/testing';
import { ShortestResponseLoadBalance } from '../src/shortest-response-load-balance';

loadBalanceContract('shortestresponse', () => new ShortestResponseLoadBalance());

/**
 * Provider URLs come from the registry: whatever weight, timestamp or warmup they carry, every
 * balancer answers with one of the providers it was given, without throwing, and the weighted
 * ones keep their sums finite.
 */
import { fakeInvocation, FakeInvoker } from '@plexus/kernel/testing';
import { invokerWeight, type LoadBalance } from '@plexus/kernel/spi';
import { RandomLoadBalance } from '../src/random-load-balance';
import { RoundRobinLoadBalance } from '../src/round-robin-load-balance';
import { LeastActiveLoadBalance } from '../src/least-active-load-balance';
import { ShortestResponseLoadBalance } from '../src/shortest-response-load-balance';
import { ConsistentHashLoadBalance } from '../src/consistent-hash-load-balance';
import { P2cLoadBalance } from '../src/p2c-load-balance';
import { WeightTable } from '../src/weight-table';
import { seeded, tally } from './support/sim';

const at = (host: string, query: string) => new FakeInvoker(`plexus://${host}:20880/demo.Greeter?${query}`);

const balancers: Array<[string, () => LoadBalance]> = [
  ['random', () => new RandomLoadBalance(seeded(1))],
  ['roundrobin', () => new RoundRobinLoadBalance()],
  ['leastactive', () => new LeastActiveLoadBalance({ random: seeded(1) })],
  ['shortestresponse', () => new ShortestResponseLoadBalance({ random: seeded(1) })],
  ['consistenthash', () => new ConsistentHashLoadBalance()],
  ['p2c', () => new P2cLoadBalance({ random: seeded(1) })],
];

describe('hostile provider weights', () => {
  it('caps a weight at 2^31 - 1, so sums over many providers stay finite', () => {
    expect(invokerWeight(at('10.0.0.1', 'weight=1e308'))).toBe(2 ** 31 - 1);
    const table = new WeightTable([at('10.0.0.1', 'weight=1e308'), at('10.0.0.2', 'weight=1e308'), at('10.0.0.3', 'weight=1')], Date.now());
    expect(Number.isFinite(table.total)).toBe(true);
    expect(table.pick(0.25)).toBe(0);
    expect(table.pick(0.75)).toBe(1);
  });

  it.each(balancers)('%s answers with a given provider whatever the URLs say', (_name, create) => {
    const lb = create();
    const now = Date.now();
    const lists = [
      [at('10.0.0.1', 'weight=1e308'), at('10.0.0.2', 'weight=1e308')],
      [at('10.0.0.1', 'weight=-5'), at('10.0.0.2', 'weight=abc'), at('10.0.0.3', 'weight=')],
      [at('10.0.0.1', `timestamp=${now + 1e12}`), at('10.0.0.2', 'timestamp=-1&warmup=-1'), at('10.0.0.3', 'warmup=1e308&timestamp=1')],
      [at('10.0.0.1', 'weight=0.0001'), at('10.0.0.2', 'weight=1e-300'), at('10.0.0.3', 'weight=NaN')],
      [at('10.0.0.1', 'weight=0'), at('10.0.0.2', 'weight=-0')],
    ];
    for (const list of lists) {
      for (let i = 0; i < 50; i++) {
        const inv = fakeInvocation({ args: [`k${i}`] });
        const chosen = lb.select(list, inv);
        expect(list).toContain(chosen);
        lb.started?.(chosen, inv);
        lb.finished?.(chosen, inv, i % 2 ? Number.NaN : -3, i % 3 === 0);
      }
    }
  });

  it('gives two providers with capped weights equal shares', () => {
    const list = [at('10.0.0.1', 'weight=1e308'), at('10.0.0.2', 'weight=9e15')];
    const counts = tally(new RandomLoadBalance(seeded(4)), list, fakeInvocation(), 2000);
    expect(counts[0]).toBeGreaterThan(850);
    expect(counts[1]).toBeGreaterThan(850);
  });
});

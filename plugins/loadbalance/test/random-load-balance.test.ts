import { loadBalanceContract, fakeInvocation, fakeProviders, FakeInvoker } from '@plexus/kernel/testing';
import plugin, { RandomLoadBalance } from '../src/random-load-balance';
import { WARMUP_REFRESH_MS } from '../src/weight-table';
import { seeded, tally, warmingProvider } from './support/sim';

loadBalanceContract('random', () => new RandomLoadBalance());

describe('RandomLoadBalance', () => {
  it('is the plugin default export under loadbalance/random', () => {
    expect(plugin.extensions).toHaveLength(1);
    expect(plugin.extensions[0]).toMatchObject({ point: 'loadbalance', name: 'random' });
  });

  it('maps the random number onto cumulative weights', () => {
    const invokers = fakeProviders([1, 2, 7]);
    const pick = (r: number) => new RandomLoadBalance(() => r).select(invokers, fakeInvocation());
    expect(pick(0)).toBe(invokers[0]);
    expect(pick(0.09)).toBe(invokers[0]);
    expect(pick(0.11)).toBe(invokers[1]);
    expect(pick(0.29)).toBe(invokers[1]);
    expect(pick(0.31)).toBe(invokers[2]);
    expect(pick(0.999999)).toBe(invokers[2]);
  });

  it('never lands on a zero-weight provider, even at the edges of the range', () => {
    const invokers = fakeProviders([0, 5, 0, 5, 0]);
    for (const r of [0, 1e-12, 0.4999999, 0.5, 0.9999999999, 1 - Number.EPSILON]) {
      const chosen = new RandomLoadBalance(() => r).select(invokers, fakeInvocation());
      expect(chosen === invokers[1] || chosen === invokers[3]).toBe(true);
    }
  });

  it('follows weights 1:3:6 within 3 points over 3,000 calls', () => {
    const invokers = fakeProviders([1, 3, 6]);
    const counts = tally(new RandomLoadBalance(seeded(9)), invokers, fakeInvocation(), 3000);
    expect(Math.abs(counts[0] / 3000 - 0.1)).toBeLessThan(0.03);
    expect(Math.abs(counts[1] / 3000 - 0.3)).toBeLessThan(0.03);
    expect(Math.abs(counts[2] / 3000 - 0.6)).toBeLessThan(0.03);
  });

  it('picks uniformly by index when weights are equal', () => {
    const invokers = fakeProviders([5, 5, 5, 5]);
    expect(new RandomLoadBalance(() => 0.5).select(invokers, fakeInvocation())).toBe(invokers[2]);
    expect(new RandomLoadBalance(() => 0.99).select(invokers, fakeInvocation())).toBe(invokers[3]);
  });

  it('picks uniformly when every provider is drained (weight 0)', () => {
    const invokers = fakeProviders([0, 0]);
    expect(new RandomLoadBalance(() => 0.7).select(invokers, fakeInvocation())).toBe(invokers[1]);
  });

  it('gives a warming provider less weight', () => {
    const now = Date.now();
    // Started a tenth of the warmup ago: weight 100 counts as 10.
    const warming = new FakeInvoker(`plexus://10.0.0.9:20880/demo.Greeter?weight=100&timestamp=${now - 100_000}&warmup=1000000`);
    const [steady] = fakeProviders([100]);
    const lb = new RandomLoadBalance(() => 0.05);
    expect(lb.select([warming, steady], fakeInvocation())).toBe(warming);
    expect(new RandomLoadBalance(() => 0.2).select([warming, steady], fakeInvocation())).toBe(steady);
  });

  it('lowers a young provider\'s share of 2,000 calls to about its warmup fraction', () => {
    const now = 5_000_000;
    const young = warmingProvider('10.0.0.7', 60_000, 600_000, now); // weight 10 of 100
    const [a, b] = fakeProviders([100, 100]);
    const counts = tally(new RandomLoadBalance({ random: seeded(3), now: () => now }), [young, a, b], fakeInvocation(), 2000);
    // 10 / 210 ≈ 4.8 %; a cold start at full weight would take a third.
    expect(counts[0] / 2000).toBeGreaterThan(0.02);
    expect(counts[0] / 2000).toBeLessThan(0.08);
  });

  it('recomputes the weights of a warming list once a second, not on every call', () => {
    let clock = 1_000_000;
    const list = [warmingProvider('10.0.0.7', 1000, 10_000, clock), ...fakeProviders([100])]; // young weight 10
    const lb = new RandomLoadBalance({ random: () => 0.1, now: () => clock });
    const inv = fakeInvocation();
    // 0.1 × 110 = 11 lies past the young provider's 10.
    expect(lb.select(list, inv)).toBe(list[1]);
    // Half a second later its weight is 15 (0.1 × 115 = 11.5 would be its), but the table is kept.
    clock += WARMUP_REFRESH_MS / 2;
    expect(lb.select(list, inv)).toBe(list[1]);
    // A second after it was built the table is recomputed: weight 20, 0.1 × 120 = 12 is the young one's.
    clock += WARMUP_REFRESH_MS / 2;
    expect(lb.select(list, inv)).toBe(list[0]);
  });

  it('handles lists longer than any scratch space', () => {
    const weights = Array.from({ length: 140 }, (_, i) => i + 1);
    const invokers = fakeProviders(weights);
    const lb = new RandomLoadBalance(() => 0.999999);
    expect(lb.select(invokers, fakeInvocation())).toBe(invokers[139]);
  });

  it('builds the table once per list object: a new list with other weights is read afresh', () => {
    const lb = new RandomLoadBalance(() => 0.3);
    const first = fakeProviders([1, 9]);
    expect(lb.select(first, fakeInvocation())).toBe(first[1]);
    const second = [first[0], ...fakeProviders([0])];
    expect(lb.select(second, fakeInvocation())).toBe(first[0]);
    expect(lb.select(first, fakeInvocation())).toBe(first[1]);
  });
});

import { loadBalanceContract, fakeInvocation, fakeProviders, FakeInvoker } from '@plexus/kernel/testing';
import plugin, { RandomLoadBalance } from '../src/random-load-balance';

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

  it('handles lists longer than its scratch buffer', () => {
    const weights = Array.from({ length: 40 }, (_, i) => i + 1);
    const invokers = fakeProviders(weights);
    const lb = new RandomLoadBalance(() => 0.999999);
    expect(lb.select(invokers, fakeInvocation())).toBe(invokers[39]);
  });
});

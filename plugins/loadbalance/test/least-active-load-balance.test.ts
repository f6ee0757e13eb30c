import { loadBalanceContract, fakeInvocation, fakeProviders } from '@plexus/kernel/testing';
import plugin, { LeastActiveLoadBalance } from '../src/least-active-load-balance';
import { RandomLoadBalance } from '../src/random-load-balance';
import { seeded, tally, TickCluster } from './support/sim';

loadBalanceContract('leastactive', () => new LeastActiveLoadBalance());

describe('LeastActiveLoadBalance', () => {
  it('is the plugin default export under loadbalance/leastactive', () => {
    expect(plugin.extensions).toEqual([expect.objectContaining({ point: 'loadbalance', name: 'leastactive' })]);
  });

  it('sends the call to the provider with the fewest attempts in flight', () => {
    const lb = new LeastActiveLoadBalance();
    const inv = fakeInvocation();
    const [a, b, c] = fakeProviders([100, 100, 100]);
    lb.started(a, inv);
    lb.started(a, inv);
    lb.started(b, inv);
    for (let i = 0; i < 20; i++) expect(lb.select([a, b, c], inv)).toBe(c);
    lb.started(c, inv);
    lb.started(c, inv);
    for (let i = 0; i < 20; i++) expect(lb.select([a, b, c], inv)).toBe(b);
    expect([lb.active(a, inv), lb.active(b, inv), lb.active(c, inv)]).toEqual([2, 1, 2]);
  });

  it('breaks ties by weight', () => {
    const lb = new LeastActiveLoadBalance({ random: seeded(5) });
    const inv = fakeInvocation();
    const invokers = fakeProviders([100, 300, 100]);
    lb.started(invokers[2], inv); // out of the tie
    const counts = tally(lb, invokers, inv, 2000);
    expect(counts[2]).toBe(0);
    expect(counts[1] / 2000).toBeGreaterThan(0.7);
    expect(counts[1] / 2000).toBeLessThan(0.8);
  });

  it('counts per method: a busy method does not push another away from a provider', () => {
    const lb = new LeastActiveLoadBalance();
    const hello = fakeInvocation({ method: 'sayHello' });
    const bye = fakeInvocation({ method: 'sayBye' });
    const [a, b] = fakeProviders([100, 100]);
    for (let i = 0; i < 3; i++) lb.started(a, hello);
    lb.started(b, bye);
    expect(lb.select([a, b], hello)).toBe(b);
    expect(lb.select([a, b], bye)).toBe(a);
  });

  it('starves a slow provider when calls go through the hooks as a cluster makes them', async () => {
    const inv = fakeInvocation();
    const run = async (lb: LeastActiveLoadBalance | RandomLoadBalance) => {
      const sim = new TickCluster(lb, inv);
      // Two providers answer in 1 tick, the third in 20; three calls a tick for 300 ticks.
      const invokers = [sim.provider(1, 1), sim.provider(2, 1), sim.provider(3, 20)];
      const counts = [0, 0, 0];
      for (let t = 0; t < 300; t++) {
        for (let k = 0; k < 3; k++) counts[invokers.indexOf(sim.call(invokers))]++;
        await sim.tick();
      }
      await sim.drain();
      return { counts, invokers };
    };
    const least = new LeastActiveLoadBalance({ random: seeded(11) });
    const { counts, invokers } = await run(least);
    // Random would give the slow one a third (300 calls); least-active lets it hold a few at most.
    expect(counts[2]).toBeLessThan(90);
    expect(counts[0] + counts[1]).toBe(900 - counts[2]);
    expect(Math.abs(counts[0] - counts[1])).toBeLessThan(120);
    // Every attempt finished, so nothing is counted in flight any more.
    for (const invoker of invokers) expect(least.active(invoker, inv)).toBe(0);
    const random = await run(new RandomLoadBalance(seeded(11)));
    expect(random.counts[2]).toBeGreaterThan(250);
  });

  it('forgets providers gone longer than the recycle period once nothing is in flight on them', () => {
    let clock = 1_000_000;
    const lb = new LeastActiveLoadBalance({ now: () => clock });
    const inv = fakeInvocation();
    const [stable] = fakeProviders([100]);
    const held = fakeProviders([100, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
    lb.started(held[9], inv); // still out when its provider leaves
    for (let i = 0; i < 200; i++) {
      const passing = fakeProviders([100])[0];
      const list = [stable, held[i % 10], passing];
      lb.select(list, inv);
      clock += 1000;
    }
    // Without recycling 211 records would be held. Sweeps run once per recycle period (60 s), so
    // at most two periods of passing providers (60 lists each) are held, plus the 11 that recur.
    expect(lb.trackedProviders()).toBeLessThanOrEqual(11 + 2 * 60);
    expect(lb.active(held[9], inv)).toBe(1);
    lb.finished(held[9], inv, 5, false);
    expect(lb.active(held[9], inv)).toBe(0);
  });
});

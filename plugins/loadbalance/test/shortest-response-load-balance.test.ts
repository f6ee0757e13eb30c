import { loadBalanceContract, fakeExtensionContext, fakeInvocation, fakeProviders } from '@plexus/kernel/testing';
import type { Invocation, Invoker } from '@plexus/kernel/spi';
import plugin, { SHORTEST_RESPONSE_WINDOW_MS, ShortestResponseLoadBalance } from '../src/shortest-response-load-balance';
import { seeded, tally, TickCluster } from './support/sim';

loadBalanceContract('shortestresponse', () => new ShortestResponseLoadBalance());

/** Records `n` finished attempts of `ms` each on `invoker`, through the hooks. */
function answered(lb: ShortestResponseLoadBalance, invoker: Invoker, inv: Invocation, ms: number, n = 1, failed = false): void {
  for (let i = 0; i < n; i++) {
    lb.started(invoker, inv);
    lb.finished(invoker, inv, ms, failed);
  }
}

describe('ShortestResponseLoadBalance', () => {
  it('is the plugin default export under loadbalance/shortestresponse, and passes windowMs on', () => {
    expect(plugin.extensions).toEqual([expect.objectContaining({ point: 'loadbalance', name: 'shortestresponse' })]);
    const lb = plugin.extensions[0].create(fakeExtensionContext({ windowMs: 1000 })) as ShortestResponseLoadBalance;
    expect(lb.windowMs).toBe(1000);
    expect((plugin.extensions[0].create(fakeExtensionContext({})) as ShortestResponseLoadBalance).windowMs).toBe(SHORTEST_RESPONSE_WINDOW_MS);
    expect(() => new ShortestResponseLoadBalance({ windowMs: 0 })).toThrow(
      expect.objectContaining({ code: 'PLEXUS_ERR_LOADBALANCE_OPTION', message: expect.stringContaining('windowMs must be at least 2 (ms), got 0') }),
    );
  });

  it('prefers the provider with the shortest average answer', () => {
    const lb = new ShortestResponseLoadBalance();
    const inv = fakeInvocation();
    const [a, b, c] = fakeProviders([100, 100, 100]);
    answered(lb, a, inv, 30, 3);
    answered(lb, b, inv, 10, 1);
    answered(lb, b, inv, 20, 1);
    answered(lb, c, inv, 40, 2);
    expect(lb.averageLatency(b, inv)).toBe(15);
    for (let i = 0; i < 20; i++) expect(lb.select([a, b, c], inv)).toBe(b);
  });

  it('counts expected waits within 10 % of the shortest as tied, split by weight', () => {
    const lb = new ShortestResponseLoadBalance({ random: seeded(12) });
    const inv = fakeInvocation();
    const [a, b, c] = fakeProviders([100, 100, 100]);
    answered(lb, a, inv, 10); // 11
    answered(lb, b, inv, 10.9); // 11.9: within 10 % of 11
    answered(lb, c, inv, 11.2); // 12.2: not
    const counts = tally(lb, [a, b, c], inv, 400);
    expect(counts[0]).toBeGreaterThan(150);
    expect(counts[1]).toBeGreaterThan(150);
    expect(counts[2]).toBe(0);
  });

  it('multiplies the average by attempts in flight + 1', () => {
    const lb = new ShortestResponseLoadBalance();
    const inv = fakeInvocation();
    const [fast, slow] = fakeProviders([100, 100]);
    answered(lb, fast, inv, 9);
    answered(lb, slow, inv, 29);
    expect(lb.select([fast, slow], inv)).toBe(fast);
    // (9 + 1) × (2 + 1) = 30 ≥ (29 + 1) × 1: a tie, then the slow one is strictly better.
    lb.started(fast, inv);
    lb.started(fast, inv);
    expect(tally(lb, [fast, slow], inv, 200).every((n) => n > 0)).toBe(true);
    lb.started(fast, inv);
    for (let i = 0; i < 20; i++) expect(lb.select([fast, slow], inv)).toBe(slow);
  });

  it('counts a provider with no answer yet at the best average, so it is tried but not flooded', () => {
    const lb = new ShortestResponseLoadBalance({ random: seeded(2) });
    const inv = fakeInvocation();
    const [known, slow, fresh] = fakeProviders([100, 100, 100]);
    answered(lb, known, inv, 10);
    answered(lb, slow, inv, 50);
    const counts = tally(lb, [known, slow, fresh], inv, 400);
    expect(counts[1]).toBe(0);
    expect(counts[0]).toBeGreaterThan(150);
    expect(counts[2]).toBeGreaterThan(150);
    // Once two calls are out on it, the new provider waits its turn like any other.
    lb.started(fresh, inv);
    expect(lb.select([known, slow, fresh], inv)).toBe(known);
  });

  it('forgets answers older than the window', () => {
    let clock = 1_000_000;
    const lb = new ShortestResponseLoadBalance({ windowMs: 1000, now: () => clock });
    const inv = fakeInvocation();
    const [a, b] = fakeProviders([100, 100]);
    lb.select([a, b], inv);
    answered(lb, a, inv, 50);
    answered(lb, b, inv, 10);
    clock += 400;
    expect(lb.averageLatency(a, inv)).toBe(50);
    // The older half still holds it.
    clock += 400;
    expect(lb.averageLatency(a, inv)).toBe(50);
    answered(lb, a, inv, 30);
    expect(lb.averageLatency(a, inv)).toBe(40);
    // A whole window later nothing is left: a is no longer held back by its slow past.
    clock += 1000;
    expect(lb.averageLatency(a, inv)).toBe(-1);
    expect(lb.averageLatency(b, inv)).toBe(-1);
    expect(tally(lb, [a, b], inv, 200).every((n) => n > 40)).toBe(true);
  });

  it('never lets a failed attempt make a provider look faster', () => {
    const lb = new ShortestResponseLoadBalance();
    const inv = fakeInvocation();
    const [a] = fakeProviders([100]);
    answered(lb, a, inv, 20);
    answered(lb, a, inv, 1, 1, true); // a fast failure counts as 2 × 20
    expect(lb.averageLatency(a, inv)).toBe(30);
  });

  it('moves traffic off a provider that slows down', async () => {
    const inv = fakeInvocation();
    const lb = new ShortestResponseLoadBalance({ random: seeded(4) });
    const sim = new TickCluster(lb, inv);
    const invokers = [sim.provider(1, 1), sim.provider(2, 1), sim.provider(3, 8)];
    const counts = [0, 0, 0];
    for (let t = 0; t < 200; t++) {
      for (let k = 0; k < 3; k++) counts[invokers.indexOf(sim.call(invokers))]++;
      await sim.tick();
    }
    await sim.drain();
    expect(counts[2]).toBeLessThan(60);
    for (const invoker of invokers) expect(lb.active(invoker, inv)).toBe(0);
  });
});

import type { LoadBalance } from '../spi/loadbalance';
import type { Invoker } from '../spi/invoker';
import { fakeInvocation, fakeProviders, FakeInvoker, FAKE_SERVICE } from './fakes';

/** Switches for load balancers that do not follow weights. */
export interface LoadBalanceContractOptions {
  /**
   * False for policies that ignore weights by design (e.g. consistent hashing): the zero-weight
   * and distribution checks are then left out. Default true.
   */
  weighted?: boolean;
}

/**
 * The behaviour every load balancer shares. Call it at the top level of a test file:
 * `loadBalanceContract('roundrobin', () => new RoundRobinLoadBalance())`. `create` runs once per
 * test, so state does not leak between checks. Distribution checks sample a bounded number of
 * calls with a generous tolerance and never look at the clock.
 */
export function loadBalanceContract(name: string, create: () => LoadBalance, options: LoadBalanceContractOptions = {}): void {
  const weighted = options.weighted ?? true;

  describe(`loadbalance contract: ${name}`, () => {
    it('returns one of the given invokers', () => {
      const lb = create();
      const invokers = fakeProviders([100, 100, 100]);
      for (let i = 0; i < 60; i++) {
        const chosen = lb.select(invokers, fakeInvocation({ args: [i] }));
        expect(invokers).toContain(chosen);
      }
    });

    it('always chooses a single invoker', () => {
      const lb = create();
      const [only] = fakeProviders([100]);
      for (let i = 0; i < 20; i++) expect(lb.select([only], fakeInvocation({ args: [i] }))).toBe(only);
    });

    it('is synchronous and does not change the list it is given', () => {
      const lb = create();
      const invokers = fakeProviders([10, 20, 30]);
      const copy = invokers.slice();
      const chosen: unknown = lb.select(invokers, fakeInvocation());
      expect(chosen).not.toBeInstanceOf(Promise);
      expect(invokers).toEqual(copy);
    });

    it('keeps choosing among the invokers it is given as the list changes', () => {
      const lb = create();
      const invokers = fakeProviders([100, 100, 100, 100]);
      for (let round = 0; round < 4; round++) {
        const subset = invokers.filter((_, i) => i !== round);
        for (let i = 0; i < 10; i++) expect(subset).toContain(lb.select(subset, fakeInvocation({ args: [round, i] })));
      }
    });

    it('tells invokers with equal URLs apart by identity', () => {
      const lb = create();
      const url = `plexus://10.0.0.1:20880/${FAKE_SERVICE}?weight=100`;
      const twins: Invoker[] = [new FakeInvoker(url), new FakeInvoker(url)];
      const seen = new Set<Invoker>();
      for (let i = 0; i < 200; i++) {
        const chosen = lb.select(twins, fakeInvocation({ args: [i] }));
        expect(chosen === twins[0] || chosen === twins[1]).toBe(true);
        seen.add(chosen);
      }
      if (weighted) expect(seen.size).toBe(2);
    });

    if (!weighted) return;

    it('never chooses a zero-weight provider while others have weight', () => {
      const lb = create();
      const invokers = fakeProviders([0, 100, 0, 50]);
      for (let i = 0; i < 300; i++) {
        const chosen = lb.select(invokers, fakeInvocation({ args: [i] }));
        expect(chosen === invokers[1] || chosen === invokers[3]).toBe(true);
      }
    });

    it('spreads calls roughly in proportion to weights', () => {
      const lb = create();
      const weights = [100, 200, 300];
      const invokers = fakeProviders(weights);
      const samples = 6000;
      const counts = new Map<Invoker, number>(invokers.map((i) => [i, 0]));
      for (let i = 0; i < samples; i++) {
        const chosen = lb.select(invokers, fakeInvocation({ args: [i] }));
        counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
      }
      const total = weights.reduce((a, b) => a + b, 0);
      invokers.forEach((invoker, i) => {
        const expected = (samples * weights[i]) / total;
        // ±25% of the expectation is many standard deviations for a fair random choice.
        expect(counts.get(invoker)).toBeGreaterThan(expected * 0.75);
        expect(counts.get(invoker)).toBeLessThan(expected * 1.25);
      });
    });

    it('spreads calls over providers of equal weight', () => {
      const lb = create();
      const invokers = fakeProviders([100, 100, 100, 100]);
      const counts = new Map<Invoker, number>();
      for (let i = 0; i < 4000; i++) {
        const chosen = lb.select(invokers, fakeInvocation({ args: [i] }));
        counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
      }
      for (const invoker of invokers) {
        expect(counts.get(invoker)).toBeGreaterThan(750);
        expect(counts.get(invoker)).toBeLessThan(1250);
      }
    });
  });
}

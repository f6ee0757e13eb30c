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

    describe('attempt hooks (started/finished), when the balancer has them', () => {
      const hooked = (lb: LoadBalance): lb is LoadBalance & Required<Pick<LoadBalance, 'started' | 'finished'>> =>
        typeof lb.started === 'function' && typeof lb.finished === 'function';

      it('has both hooks or neither', () => {
        const lb = create();
        expect(typeof lb.started).toBe(typeof lb.finished);
      });

      it('tolerates finished for an invoker it never saw, or one that left the list', () => {
        const lb = create();
        if (!hooked(lb)) return;
        const inv = fakeInvocation();
        const invokers = fakeProviders([100, 100, 100, 100]);
        const [stranger] = fakeProviders([100]);
        expect(() => lb.finished(stranger, inv, 3, false)).not.toThrow();
        lb.select(invokers, inv);
        lb.started(invokers[0], inv);
        // The provider leaves while its attempt is out; the answer (or failure) arrives afterwards.
        const rest = invokers.slice(1);
        for (let i = 0; i < 10; i++) expect(rest).toContain(lb.select(rest, inv));
        expect(() => lb.finished(invokers[0], inv, 7, true)).not.toThrow();
        for (let i = 0; i < 10; i++) expect(rest).toContain(lb.select(rest, inv));
      });

      if (!weighted) return;

      it('counts return to zero: once every attempt finished (and stray finishes were ignored) calls spread evenly again', () => {
        const lb = create();
        if (!hooked(lb)) return;
        const inv = fakeInvocation();
        const invokers = fakeProviders([100, 100, 100, 100]);
        const out: Invoker[] = [];
        // Calls pile up as the cluster would make them: chosen, started, and not yet answered.
        for (let i = 0; i < 40; i++) {
          const chosen = lb.select(invokers, inv);
          lb.started(chosen, inv);
          out.push(chosen);
        }
        for (let i = 0; i < 6; i++) {
          lb.started(invokers[0], inv);
          out.push(invokers[0]);
        }
        // They settle in another order, after the list object changed (same providers), all in the
        // same time, so latency does not tell the providers apart afterwards.
        const later = invokers.slice();
        for (const invoker of out.reverse()) lb.finished(invoker, inv, 2, false);
        // Answers nobody started: a broken count would go below zero and draw every call.
        for (let i = 0; i < 5; i++) lb.finished(invokers[1], inv, 2, false);
        // Every provider has answered at least once, in that same time.
        for (const invoker of later) {
          lb.started(invoker, inv);
          lb.finished(invoker, inv, 2, false);
        }
        const counts = new Map<Invoker, number>(later.map((i) => [i, 0]));
        for (let i = 0; i < 800; i++) {
          const chosen = lb.select(later, inv);
          counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
        }
        for (const invoker of later) {
          expect(counts.get(invoker)).toBeGreaterThan(120);
          expect(counts.get(invoker)).toBeLessThan(320);
        }
      });
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

    it('gives a provider still warming up a smaller share (weight × uptime / warmup)', () => {
      const lb = create();
      // A tenth of the way through a 1000 s warmup: weight 100 counts as 10 (a second of test
      // time moves that by 0.1). Expected share 10 / 210, about 5 %; a cold start would take a third.
      const young = new FakeInvoker(`plexus://10.0.0.9:20880/${FAKE_SERVICE}?weight=100&timestamp=${Date.now() - 100_000}&warmup=1000000`);
      const invokers: Invoker[] = [young, ...fakeProviders([100, 100])];
      let picked = 0;
      for (let i = 0; i < 3000; i++) if (lb.select(invokers, fakeInvocation({ args: [i] })) === young) picked++;
      expect(picked).toBeGreaterThan(30);
      expect(picked).toBeLessThan(360);
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

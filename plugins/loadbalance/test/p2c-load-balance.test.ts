import { loadBalanceContract, fakeExtensionContext, fakeInvocation, fakeProviders } from '@plexus/kernel/testing';
import type { Invocation, Invoker } from '@plexus/kernel/spi';
import plugin, { P2C_DECAY, P2C_PROBE_MS, P2cLoadBalance } from '../src/p2c-load-balance';
import { seeded, tally, TickCluster } from './support/sim';

loadBalanceContract('p2c', () => new P2cLoadBalance());

function answered(lb: P2cLoadBalance, invoker: Invoker, inv: Invocation, ms: number, failed = false): void {
  lb.started(invoker, inv);
  lb.finished(invoker, inv, ms, failed);
}

describe('P2cLoadBalance', () => {
  it('is the plugin default export under loadbalance/p2c, and passes decay and probeMs on', () => {
    expect(plugin.extensions).toEqual([expect.objectContaining({ point: 'loadbalance', name: 'p2c' })]);
    const made = plugin.extensions[0].create(fakeExtensionContext({ decay: 0.5, probeMs: 0 })) as P2cLoadBalance;
    expect([made.decay, made.probeMs]).toEqual([0.5, 0]);
    const defaults = plugin.extensions[0].create(fakeExtensionContext({})) as P2cLoadBalance;
    expect([defaults.decay, defaults.probeMs]).toEqual([P2C_DECAY, P2C_PROBE_MS]);
    expect(() => new P2cLoadBalance({ decay: 0 })).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_LOADBALANCE_OPTION', message: expect.stringContaining('decay must be above 0 and at most 1, got 0') }));
    expect(() => new P2cLoadBalance({ probeMs: -1 })).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_LOADBALANCE_OPTION', message: expect.stringContaining('probeMs') }));
  });

  it('compares two distinct providers: of two, the busy one is never chosen', () => {
    const lb = new P2cLoadBalance();
    const inv = fakeInvocation();
    const [a, b] = fakeProviders([100, 100]);
    lb.started(a, inv);
    // Drawing the same provider twice would sometimes pit a against itself.
    for (let i = 0; i < 200; i++) expect(lb.select([a, b], inv)).toBe(b);
  });

  it('scores (latency + 1) × (in flight + 1) once both candidates have answered', () => {
    const lb = new P2cLoadBalance({ probeMs: 0 });
    const inv = fakeInvocation();
    const [fast, slow] = fakeProviders([100, 100]);
    answered(lb, fast, inv, 9);
    answered(lb, slow, inv, 39);
    for (let i = 0; i < 20; i++) expect(lb.select([fast, slow], inv)).toBe(fast);
    // (9 + 1) × 5 = 50 > (39 + 1) × 1.
    for (let i = 0; i < 4; i++) lb.started(fast, inv);
    for (let i = 0; i < 20; i++) expect(lb.select([fast, slow], inv)).toBe(slow);
  });

  it('leaves the call to the first drawn when the two loads are within 10 %', () => {
    const lb = new P2cLoadBalance({ random: seeded(13), probeMs: 0 });
    const inv = fakeInvocation();
    const [a, b] = fakeProviders([100, 100]);
    answered(lb, a, inv, 10); // 11
    answered(lb, b, inv, 10.5); // 11.5
    const counts = tally(lb, [a, b], inv, 400);
    expect(counts[0]).toBeGreaterThan(150);
    expect(counts[1]).toBeGreaterThan(150);
    answered(lb, b, inv, 30); // moving average 14.4: clearly heavier
    expect(tally(lb, [a, b], inv, 100)).toEqual([100, 0]);
  });

  it('keeps a moving average with weight `decay` on the newest answer; a failure counts double', () => {
    const inv = fakeInvocation();
    const [a] = fakeProviders([100]);
    const half = new P2cLoadBalance({ decay: 0.5 });
    const fifth = new P2cLoadBalance({ decay: 0.2 });
    for (const lb of [half, fifth]) {
      answered(lb, a, inv, 10);
      answered(lb, a, inv, 110);
    }
    expect(half.averageLatency(a, inv)).toBe(60);
    expect(fifth.averageLatency(a, inv)).toBe(30);
    answered(half, a, inv, 1, true); // counts as 2 × max(1, 60) = 120
    expect(half.averageLatency(a, inv)).toBe(90);
  });

  it('draws candidates by weight: with no load known it is weighted random', () => {
    const lb = new P2cLoadBalance({ random: seeded(8) });
    const invokers = fakeProviders([100, 300]);
    const counts = tally(lb, invokers, fakeInvocation(), 4000);
    expect(counts[1] / 4000).toBeGreaterThan(0.7);
    expect(counts[1] / 4000).toBeLessThan(0.8);
  });

  it('probes a provider that lost every comparison for probeMs', () => {
    let clock = 1_000_000;
    const lb = new P2cLoadBalance({ now: () => clock });
    const inv = fakeInvocation();
    const [fast, slow] = fakeProviders([100, 100]);
    answered(lb, fast, inv, 1);
    answered(lb, slow, inv, 500);
    for (let i = 0; i < 20; i++) expect(lb.select([fast, slow], inv)).toBe(fast);
    clock += P2C_PROBE_MS / 2;
    expect(lb.select([fast, slow], inv)).toBe(fast);
    clock += P2C_PROBE_MS / 2;
    expect(lb.select([fast, slow], inv)).toBe(slow);
    expect(lb.select([fast, slow], inv)).toBe(fast);
    // Off: never.
    const never = new P2cLoadBalance({ now: () => clock, probeMs: 0 });
    answered(never, fast, inv, 1);
    answered(never, slow, inv, 500);
    clock += 10 * P2C_PROBE_MS;
    for (let i = 0; i < 20; i++) expect(never.select([fast, slow], inv)).toBe(fast);
  });

  it('moves traffic off a slow provider among 10 when calls go through the hooks', async () => {
    const inv = fakeInvocation();
    const lb = new P2cLoadBalance({ random: seeded(6) });
    const sim = new TickCluster(lb, inv);
    const invokers = Array.from({ length: 10 }, (_, i) => sim.provider(i + 1, i === 0 ? 20 : 1));
    const counts = invokers.map(() => 0);
    for (let t = 0; t < 200; t++) {
      for (let k = 0; k < 5; k++) counts[invokers.indexOf(sim.call(invokers))]++;
      await sim.tick();
    }
    await sim.drain();
    // A fair share is 100 of 1,000; holding its calls 20 ticks, the slow one loses almost every comparison it is drawn into.
    expect(counts[0]).toBeLessThan(40);
    for (const invoker of invokers) expect(lb.active(invoker, inv)).toBe(0);
  });
});

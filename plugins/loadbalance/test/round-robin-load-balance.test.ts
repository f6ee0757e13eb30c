import { loadBalanceContract, fakeInvocation, fakeProviders, FakeInvoker } from '@plexus/kernel/testing';
import type { Invoker, URL } from '@plexus/kernel/spi';
import plugin, { RoundRobinLoadBalance } from '../src/round-robin-load-balance';
import { warmingProvider } from './support/sim';

loadBalanceContract('roundrobin', () => new RoundRobinLoadBalance());

const names = (invokers: Invoker[], picks: Invoker[]) => picks.map((p) => 'abcdefgh'[invokers.indexOf(p)]).join(' ');

describe('RoundRobinLoadBalance', () => {
  it('is the plugin default export under loadbalance/roundrobin', () => {
    expect(plugin.extensions[0]).toMatchObject({ point: 'loadbalance', name: 'roundrobin' });
  });

  it('refuses a recycle period under 1 ms given in code, with a code', () => {
    for (const recycleMs of [0, -5, Number.NaN]) {
      expect(() => new RoundRobinLoadBalance({ recycleMs })).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_LOADBALANCE_OPTION' }));
    }
  });

  it('produces the smooth sequence a a b a c a a for weights 5, 1, 1', () => {
    const lb = new RoundRobinLoadBalance();
    const invokers = fakeProviders([5, 1, 1]);
    const inv = fakeInvocation();
    const picks = Array.from({ length: 14 }, () => lb.select(invokers, inv));
    expect(names(invokers, picks)).toBe('a a b a c a a a a b a c a a');
  });

  it('spreads weights 1:3:6 smoothly (never six of one in a row) and exactly over 1,000 calls', () => {
    const lb = new RoundRobinLoadBalance();
    const invokers = fakeProviders([1, 3, 6]);
    const inv = fakeInvocation();
    const picks = Array.from({ length: 1000 }, () => lb.select(invokers, inv));
    const first = names(invokers, picks.slice(0, 10)).replace(/ /g, '');
    expect(first).toBe('cbcacbccbc');
    // The longest run of one provider is 2 (of the 6-weight one), and every block of ten is exact.
    let run = 1;
    let longest = 1;
    for (let i = 1; i < picks.length; i++) {
      run = picks[i] === picks[i - 1] ? run + 1 : 1;
      longest = Math.max(longest, run);
    }
    expect(longest).toBeLessThanOrEqual(2);
    for (let block = 0; block < 100; block++) {
      const ten = picks.slice(block * 10, block * 10 + 10);
      expect(invokers.map((p) => ten.filter((x) => x === p).length)).toEqual([1, 3, 6]);
    }
  });

  it('gives a warming provider fewer turns', () => {
    const now = 2_000_000;
    const young = warmingProvider('10.0.0.7', 100_000, 1_000_000, now); // weight 10 of 100
    const [old] = fakeProviders([100]);
    const lb = new RoundRobinLoadBalance({ now: () => now });
    const picks = Array.from({ length: 110 }, () => lb.select([young, old], fakeInvocation()));
    expect(picks.filter((p) => p === young)).toHaveLength(10);
  });

  it('rotates evenly over equal weights', () => {
    const lb = new RoundRobinLoadBalance();
    const invokers = fakeProviders([100, 100, 100]);
    const inv = fakeInvocation();
    const picks = Array.from({ length: 6 }, () => lb.select(invokers, inv));
    expect(names(invokers, picks)).toBe('a b c a b c');
  });

  it('keeps a separate rotation per service key and method', () => {
    const lb = new RoundRobinLoadBalance();
    const invokers = fakeProviders([1, 1]);
    const hello = fakeInvocation({ method: 'sayHello' });
    const bye = fakeInvocation({ method: 'sayBye' });
    const other = fakeInvocation({ service: 'demo.Other' });
    expect(lb.select(invokers, hello)).toBe(invokers[0]);
    expect(lb.select(invokers, bye)).toBe(invokers[0]);
    expect(lb.select(invokers, other)).toBe(invokers[0]);
    expect(lb.select(invokers, hello)).toBe(invokers[1]);
  });

  it('rotates over providers when every weight is 0', () => {
    const lb = new RoundRobinLoadBalance();
    const invokers = fakeProviders([0, 0]);
    const inv = fakeInvocation();
    expect(names(invokers, [lb.select(invokers, inv), lb.select(invokers, inv), lb.select(invokers, inv)])).toBe('a b a');
  });

  it('forgets providers that have been gone longer than recycleMs', () => {
    let clock = 1_000_000;
    const lb = new RoundRobinLoadBalance({ recycleMs: 1000, now: () => clock });
    const inv = fakeInvocation();
    const stable = new FakeInvoker('plexus://10.0.1.1:20880/demo.Greeter');
    // 200 short-lived providers come and go, each living for one call beside a stable one.
    for (let i = 0; i < 200; i++) {
      const passing = new FakeInvoker(`plexus://10.0.2.${i % 250}:20880/demo.Greeter`);
      lb.select([stable, passing], inv);
      lb.select([stable], inv);
      clock += 100;
    }
    // Only providers seen within the last recycle period (plus one sweep interval) are kept.
    expect(lb.trackedProviders()).toBeLessThanOrEqual(1 + 21);
    clock += 5000;
    lb.select([stable, new FakeInvoker('plexus://10.0.3.1:20880/demo.Greeter')], inv);
    expect(lb.trackedProviders()).toBe(2);
  });

  it('follows a weight change of the same provider (warmup, reconfiguration)', () => {
    const lb = new RoundRobinLoadBalance();
    const inv = fakeInvocation();
    const [a, b] = fakeProviders([1, 1]);
    expect(lb.select([a, b], inv)).toBe(a);
    (b as { url: URL }).url = b.url.withParams({ weight: 3 });
    const picks = Array.from({ length: 4 }, () => lb.select([a, b], inv));
    expect(picks.filter((p) => p === b)).toHaveLength(3);
  });
});

import { loadBalanceContract, fakeExtensionContext, fakeInvocation, fakeProviders, FakeInvoker, MemoryLogger, methodSettings } from '@plexus/kernel/testing';
import type { Invoker } from '@plexus/kernel/spi';
import plugin, { CONSISTENT_HASH_NODES, ConsistentHashLoadBalance, keyHash, parseHashSettings } from '../src/consistent-hash-load-balance';

loadBalanceContract('consistenthash', () => new ConsistentHashLoadBalance(), { weighted: false });

const providers = (n: number): FakeInvoker[] => Array.from({ length: n }, (_, i) => new FakeInvoker(`plexus://10.1.0.${i + 1}:20880/demo.Greeter`));
const keys = (n: number) => Array.from({ length: n }, (_, i) => `user-${i}`);

/** Where each key goes (as an address) over `invokers`. */
function placement(lb: ConsistentHashLoadBalance, invokers: readonly Invoker[], all: string[], params: Record<string, string> = {}): string[] {
  const settings = { params };
  return all.map((k) => lb.select(invokers, fakeInvocation({ args: [k], settings })).url.address);
}

describe('ConsistentHashLoadBalance', () => {
  it('is the plugin default export under loadbalance/consistenthash, claiming the hash key', () => {
    expect(plugin.extensions).toEqual([expect.objectContaining({ point: 'loadbalance', name: 'consistenthash', keys: ['hash'] })]);
    expect(plugin.extensions[0].create(fakeExtensionContext({}))).toBeInstanceOf(ConsistentHashLoadBalance);
  });

  it('never moves a key while the providers are stable, whatever list object or order carries them', () => {
    const lb = new ConsistentHashLoadBalance();
    const list = providers(5);
    const all = keys(2000);
    const first = placement(lb, list, all);
    expect(placement(lb, list, all)).toEqual(first);
    expect(placement(lb, list.slice().reverse(), all)).toEqual(first);
    // Another balancer instance (another consumer process) agrees: the ring depends only on addresses.
    expect(placement(new ConsistentHashLoadBalance(), list.slice(), all)).toEqual(first);
  });

  it.each([3, 5, 10])('spreads 20,000 keys over %i providers within half to twice a fair share', (n) => {
    const lb = new ConsistentHashLoadBalance();
    const list = providers(n);
    const counts = new Map<string, number>();
    for (const address of placement(lb, list, keys(20_000))) counts.set(address, (counts.get(address) ?? 0) + 1);
    expect(counts.size).toBe(n);
    const fair = 20_000 / n;
    for (const c of counts.values()) {
      expect(c).toBeLessThan(2 * fair);
      expect(c).toBeGreaterThan(0.5 * fair);
    }
  });

  it('moves only the keys of a provider that leaves, and spreads them over the others', () => {
    const lb = new ConsistentHashLoadBalance();
    const list = providers(5);
    const all = keys(5000);
    const before = placement(lb, list, all);
    const gone = list[2].url.address;
    const after = placement(lb, list.filter((_, i) => i !== 2), all);
    const heirs = new Set<string>();
    for (let i = 0; i < all.length; i++) {
      if (before[i] !== gone) expect(after[i]).toBe(before[i]);
      else heirs.add(after[i]);
    }
    expect(heirs.size).toBeGreaterThanOrEqual(3);
    // And back: when it returns it takes exactly its keys again.
    expect(placement(lb, list.slice(), all)).toEqual(before);
  });

  it('derives the ring of a sub-list (a retry skipping tried providers) exactly as a fresh build would', () => {
    const list = providers(40);
    const all = keys(3000);
    const lb = new ConsistentHashLoadBalance();
    placement(lb, list, all);
    for (const skip of [[0], [3, 17], [1, 2, 39]]) {
      const sub = list.filter((_, i) => !skip.includes(i));
      const derived = placement(lb, sub, all);
      expect(derived).toEqual(placement(new ConsistentHashLoadBalance(), sub, all));
      expect(lb.ringSize(sub, fakeInvocation())).toBe(sub.length * CONSISTENT_HASH_NODES);
    }
    // A list with a stranger in it is not a sub-list: built afresh, still right.
    const mixed = [...list.slice(0, 5), new FakeInvoker('plexus://10.9.9.9:20880/demo.Greeter')];
    expect(placement(lb, mixed, all)).toEqual(placement(new ConsistentHashLoadBalance(), mixed, all));
    // Only drained providers left: nothing to filter to, so the ring is built over them.
    const [live] = fakeProviders([100]);
    const drained = fakeProviders([0, 0, 0]).map((d, i) => new FakeInvoker(d.url.toString().replace('10.0.0.', `10.0.${i + 5}.`)));
    const withDrained = [live, ...drained];
    lb.select(withDrained, fakeInvocation());
    const onlyDrained = withDrained.slice(1);
    expect(onlyDrained).toContain(lb.select(onlyDrained, fakeInvocation({ args: ['x'] })));
    expect(lb.ringSize(onlyDrained, fakeInvocation())).toBe(3 * CONSISTENT_HASH_NODES);
  });

  it('gives a joining provider about 1/(n+1) of the keys, all taken from the others', () => {
    const lb = new ConsistentHashLoadBalance();
    const list = providers(4);
    const all = keys(5000);
    const before = placement(lb, list, all);
    const grown = [...list, new FakeInvoker('plexus://10.1.0.99:20880/demo.Greeter')];
    const after = placement(lb, grown, all);
    let moved = 0;
    for (let i = 0; i < all.length; i++) {
      if (after[i] !== before[i]) {
        moved++;
        expect(after[i]).toBe('10.1.0.99:20880');
      }
    }
    expect(moved).toBeGreaterThan(500);
    expect(moved).toBeLessThan(2000);
  });

  it('hashes argument 0 by default, and the indexes named by hash.arguments', () => {
    const lb = new ConsistentHashLoadBalance();
    const list = providers(8);
    const pick = (args: unknown[], params: Record<string, string> = {}) => lb.select(list, fakeInvocation({ args, settings: { params } }));
    // Default: only argument 0 counts.
    for (let i = 0; i < 50; i++) expect(pick(['same', i])).toBe(pick(['same', 0]));
    // hash.arguments 1: argument 0 no longer counts, argument 1 does.
    for (let i = 0; i < 50; i++) expect(pick([`k${i}`, 'same'], { 'hash.arguments': '1' })).toBe(pick(['x', 'same'], { 'hash.arguments': '1' }));
    const spread = new Set(Array.from({ length: 50 }, (_, i) => pick(['same', `k${i}`], { 'hash.arguments': '1' })));
    expect(spread.size).toBeGreaterThan(3);
    // Both: the pair is the key.
    const pairs = new Set(Array.from({ length: 50 }, (_, i) => pick(['same', `k${i}`], { 'hash.arguments': '0,1' })));
    expect(pairs.size).toBeGreaterThan(3);
  });

  it('places hash.nodes virtual nodes per provider (default 160)', () => {
    const lb = new ConsistentHashLoadBalance();
    const list = providers(3);
    expect(lb.ringSize(list, fakeInvocation())).toBe(3 * CONSISTENT_HASH_NODES);
    expect(lb.ringSize(list, fakeInvocation({ settings: { params: { 'hash.nodes': '10' } } }))).toBe(30);
    // The mapping form, with the dotted key overriding its entry.
    expect(lb.ringSize(list, fakeInvocation({ settings: { params: { hash: '{"arguments":[1],"nodes":7}' } } }))).toBe(21);
    expect(lb.ringSize(list, fakeInvocation({ settings: { params: { hash: '{"nodes":7}', 'hash.nodes': '9' } } }))).toBe(27);
    // One node per provider spreads keys far worse than 160: the option has its effect.
    const busiest = (params: Record<string, string>) => {
      const counts = new Map<string, number>();
      for (const a of placement(lb, providers(5), keys(5000), params)) counts.set(a, (counts.get(a) ?? 0) + 1);
      return Math.max(...counts.values());
    };
    expect(busiest({})).toBeLessThan(1500);
    expect(busiest({ 'hash.nodes': '1' })).toBeGreaterThan(busiest({}));
  });

  it('reads the mapping form of the hash key', () => {
    const settings = methodSettings({ params: { hash: JSON.stringify({ arguments: [0, 2], nodes: 40 }) } });
    expect(parseHashSettings(settings)).toEqual({ arguments: [0, 2], nodes: 40 });
    expect(parseHashSettings(methodSettings({ params: { hash: '{"arguments":"1"}' } }))).toEqual({ arguments: [1], nodes: 160 });
  });

  it.each([
    [{ 'hash.nodes': 'many' }, 'hash.nodes', { arguments: [0], nodes: 160 }],
    [{ 'hash.nodes': '0' }, 'hash.nodes', { arguments: [0], nodes: 160 }],
    [{ 'hash.nodes': '100000' }, 'hash.nodes', { arguments: [0], nodes: 160 }],
    [{ 'hash.arguments': '-1' }, 'hash.arguments', { arguments: [0], nodes: 160 }],
    [{ 'hash.arguments': '0,x' }, 'hash.arguments', { arguments: [0], nodes: 160 }],
    [{ 'hash.arguments': '999' }, 'hash.arguments', { arguments: [0], nodes: 160 }],
    [{ 'hash.arguments': Array.from({ length: 17 }, () => '0').join(',') }, 'hash.arguments', { arguments: [0], nodes: 160 }],
    [{ hash: 'not json', 'hash.nodes': '5' }, 'hash', { arguments: [0], nodes: 5 }],
    [{ hash: '[1,2]' }, 'hash', { arguments: [0], nodes: 160 }],
  ])('warns once with a code about %j and uses the default', (params, key, expected) => {
    const logger = new MemoryLogger();
    const lb = new ConsistentHashLoadBalance({ logger });
    const inv = fakeInvocation({ settings: { params } });
    const list = providers(3);
    for (let i = 0; i < 5; i++) expect(list).toContain(lb.select(list, inv));
    expect(lb.settingsOf(inv.settings)).toEqual(expected);
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({ level: 'warn', fields: { code: 'PLEXUS_ERR_LOADBALANCE_HASH_OPTION' } });
    expect(logger.entries[0].message).toContain(key);
    expect(logger.entries[0].message).toContain('sayHello');
  });

  it('gives no keys to a drained provider (weight 0) while another can take them', () => {
    const lb = new ConsistentHashLoadBalance();
    const [a, b] = fakeProviders([100, 100]);
    const [drained] = fakeProviders([0]);
    const list = [a, b, new FakeInvoker(drained.url.toString().replace('10.0.0.1', '10.0.0.3'))];
    const seen = new Set(keys(500).map((k) => lb.select(list, fakeInvocation({ args: [k] }))));
    expect(seen).toEqual(new Set([a, b]));
    const allDrained = fakeProviders([0, 0]);
    const both = new Set(keys(200).map((k) => lb.select(allDrained, fakeInvocation({ args: [k] }))));
    expect(both.size).toBe(2);
  });

  it('hashes every kind of argument without throwing, and equal values alike', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const values: unknown[] = ['a', '', 0, -0, 1.5, 2 ** 40, NaN, true, false, null, undefined, 10n, { id: 1 }, [1, 2], new Uint8Array([1, 2, 3]), cyclic, Symbol('s'), () => 1];
    for (const v of values) expect(Number.isInteger(keyHash([v], [0]))).toBe(true);
    expect(keyHash([0], [0])).toBe(keyHash([-0], [0]));
    expect(keyHash([{ id: 1 }], [0])).toBe(keyHash([{ id: 1 }], [0]));
    expect(keyHash([new Uint8Array([1, 2])], [0])).toBe(keyHash([new Uint8Array([1, 2])], [0]));
    // Argument boundaries count: ("ab", "c") is not ("a", "bc").
    expect(keyHash(['ab', 'c'], [0, 1])).not.toBe(keyHash(['a', 'bc'], [0, 1]));
    // A missing argument is a key too (undefined), not an error.
    expect(keyHash([], [3])).toBe(keyHash([undefined], [0]));
  });

  it('tells twins (equal addresses) apart on the ring', () => {
    const lb = new ConsistentHashLoadBalance();
    const url = 'plexus://10.0.0.1:20880/demo.Greeter';
    const twins = [new FakeInvoker(url), new FakeInvoker(url)];
    const seen = new Set(keys(300).map((k) => lb.select(twins, fakeInvocation({ args: [k] }))));
    expect(seen.size).toBe(2);
  });
});

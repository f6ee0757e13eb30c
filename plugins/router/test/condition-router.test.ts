import type { Invoker, Logger, RouteRule } from '@plexus/kernel/spi';
import { PlexusError, URL } from '@plexus/kernel/spi';
import { fakeInvocation, FakeInvoker } from '@plexus/kernel/testing';
import plugin, { ConditionRouter } from '../src/condition-router';
import { MAX_CACHED_KEYS } from '../src/route-cache';

const consumer = new URL('consumer', '10.0.0.100', 0, 'demo.Greeter', { application: 'shop' });
const rule = (id: string, body: string, extra: Partial<RouteRule> = {}): RouteRule => ({
  id,
  router: 'condition',
  body,
  priority: 0,
  force: false,
  enabled: true,
  ...extra,
});
const at = (n: number, params = '') => new FakeInvoker(`plexus://10.0.0.${n}:20880/demo.Greeter?${params}`);
const hosts = (list: readonly Invoker[]) => list.map((i) => i.url.host.split('.')[3]).join(',');
const call = (method = 'sayHello') => fakeInvocation({ method });

function routerWith(...rules: RouteRule[]): ConditionRouter {
  const router = new ConditionRouter();
  router.setRules(rules, consumer);
  return router;
}

describe('ConditionRouter', () => {
  const list = [at(1, 'region=hz'), at(2, 'region=hz&tag=gray'), at(3, 'region=sh'), at(4)];

  it('is the plugin default export under router/condition', () => {
    expect(plugin.extensions).toHaveLength(1);
    expect(plugin.extensions[0]).toMatchObject({ point: 'router', name: 'condition' });
    expect(plugin.extensions[0].create({ logger: console } as never)).toBeInstanceOf(ConditionRouter);
  });

  it('returns its input untouched while it has no rules', () => {
    const router = new ConditionRouter();
    expect(router.route(list, call())).toBe(list);
  });

  it('keeps the providers the then side admits, for the calls the when side matches', () => {
    const router = routerWith(rule('r', 'method = find* => region = hz'));
    expect(hosts(router.route(list, call('findUser')))).toBe('1,2');
    expect(router.route(list, call('save'))).toBe(list);
  });

  it('matches consumer params on the when side (host, application)', () => {
    expect(hosts(routerWith(rule('r', 'host = 10.0.0.100 & application = shop => region = sh')).route(list, call()))).toBe('3');
    expect(routerWith(rule('r', 'application = other => region = sh')).route(list, call())).toBe(list);
  });

  it('applies several rules in priority order, each to what the one before left', () => {
    const router = routerWith(rule('late', '=> tag = gray', { priority: 5 }), rule('early', '=> region = hz', { priority: 1 }));
    expect(router.ruleIds()).toEqual(['early', 'late']);
    expect(hosts(router.route(list, call()))).toBe('2');
  });

  it('keeps rules of equal priority in the order given, and leaves disabled rules out', () => {
    const router = routerWith(rule('b', '=> region = hz'), rule('a', '=> region != hz'), rule('off', '=> host = 10.0.0.9', { enabled: false }));
    expect(router.ruleIds()).toEqual(['b', 'a']);
  });

  it('falls back to the list it was given when a rule leaves no provider and is not forced, and logs it', () => {
    const debug = jest.fn();
    const logger = { debug, info: jest.fn(), warn: jest.fn(), error: jest.fn() } satisfies Logger;
    const router = new ConditionRouter({ logger });
    router.setRules([rule('hz', '=> region = hz', { priority: 1 }), rule('nowhere', '=> region = mars', { priority: 2 })], consumer);
    expect(hosts(router.route(list, call()))).toBe('1,2');
    expect(debug).toHaveBeenCalledTimes(1);
    expect(debug.mock.calls[0][0]).toMatch(/"nowhere" leaves no provider for sayHello.*uses the 2 providers/);
  });

  it('returns an empty list when a forced rule leaves no provider', () => {
    const router = routerWith(rule('nowhere', '=> region = mars', { force: true }));
    expect(router.route(list, call())).toEqual([]);
  });

  it('gives no provider to the calls an empty then side matches (a blacklist), forced or not', () => {
    const router = routerWith(rule('no-delete', 'method = delete* =>'));
    expect(router.route(list, call('deleteAll'))).toEqual([]);
    expect(router.route(list, call('find'))).toBe(list);
    expect(routerWith(rule('consumer-blocked', 'host = 10.0.0.100 =>')).route(list, call())).toEqual([]);
  });

  it('serves address white and black lists', () => {
    expect(hosts(routerWith(rule('white', '=> address = 10.0.0.1:20880, 10.0.0.3', { force: true })).route(list, call()))).toBe('1,3');
    expect(hosts(routerWith(rule('black', '=> address != 10.0.0.2, 10.0.0.4:*')).route(list, call()))).toBe('1,3');
    // A whitelist nobody in the list is on: forced it fails the call, otherwise it is ignored.
    expect(routerWith(rule('white', '=> address = 10.9.9.9', { force: true })).route(list, call())).toEqual([]);
    expect(routerWith(rule('white', '=> address = 10.9.9.9')).route(list, call())).toBe(list);
  });

  it('applies the lines of one rule in order', () => {
    const router = routerWith(rule('two', 'method = find* => region = hz\nmethod = findGray => tag = gray'));
    expect(hosts(router.route(list, call('findUser')))).toBe('1,2');
    expect(hosts(router.route(list, call('findGray')))).toBe('2');
  });

  it('returns the same array for repeated calls of one method until notify or setRules', () => {
    const router = routerWith(rule('r', 'method = find* => region = hz'));
    router.notify(list);
    const first = router.route(list, call('find'));
    expect(router.route(list, call('find'))).toBe(first);
    expect(router.route(list, call('save'))).toBe(list);
    router.notify(list);
    const afterNotify = router.route(list, call('find'));
    expect(afterNotify).not.toBe(first);
    expect(afterNotify).toEqual(first);
    router.setRules([rule('r', 'method = find* => region = sh')], consumer);
    expect(hosts(router.route(list, call('find')))).toBe('3');
  });

  it('caches per input list too, when an earlier router hands a narrowed list', () => {
    const router = routerWith(rule('r', '=> region = hz'));
    router.notify(list);
    const narrowed = list.slice(0, 3);
    const first = router.route(narrowed, call());
    expect(hosts(first)).toBe('1,2');
    expect(router.route(narrowed, call())).toBe(first);
    expect(hosts(router.route(list.slice(1), call()))).toBe('2');
  });

  it('costs a map lookup per warm call at 100 providers: no provider URL is read again', () => {
    let reads = 0;
    const providers: Invoker[] = Array.from({ length: 100 }, (_, i) => {
      const url = URL.parse(`plexus://10.1.${i >> 8}.${i & 255}:20880/demo.Greeter?region=${i % 2 ? 'hz' : 'sh'}`);
      return {
        get url() {
          reads++;
          return url;
        },
        invoke: () => Promise.reject(new Error('not called')),
      } as Invoker;
    });
    const router = routerWith(rule('r', 'method = find* & host != 10.0.0.1 => region = hz & address != 10.1.0.3'), rule('s', '=> port = 20880'));
    router.notify(providers);
    const find = call('findUser');
    const routed = router.route(providers, find);
    expect(routed).toHaveLength(49);
    const readsWhenWarm = reads;
    for (let i = 0; i < 10_000; i++) expect(router.route(providers, find)).toBe(routed);
    expect(reads).toBe(readsWhenWarm);
  });

  it('keeps at most MAX_CACHED_KEYS methods per list, and still answers past it', () => {
    const router = routerWith(rule('r', 'method = find* => region = hz'));
    router.notify(list);
    for (let i = 0; i < MAX_CACHED_KEYS + 50; i++) router.route(list, call(`find${i}`));
    expect((router as unknown as { cache: { size: number } }).cache.size).toBe(MAX_CACHED_KEYS);
    expect(hosts(router.route(list, call('findLate')))).toBe('1,2');
  });

  it('keeps the rules in force when a new list holds a malformed rule', () => {
    const router = routerWith(rule('r', '=> region = hz'));
    expect(() => router.setRules([rule('ok', '=> region = sh'), rule('bad', 'region = sh')], consumer)).toThrow(
      expect.objectContaining({ code: 'PLEXUS_ERR_ROUTER_CONDITION_SYNTAX' }),
    );
    expect(router.ruleIds()).toEqual(['r']);
    expect(hosts(router.route(list, call()))).toBe('1,2');
    let err: unknown;
    try {
      router.setRules([rule('t', '=> region = sh', { router: 'tag' })], consumer);
    } catch (e) {
      err = e;
    }
    expect(PlexusError.is(err, 'PLEXUS_ERR_ROUTER_WRONG_ROUTER')).toBe(true);
    expect(router.ruleIds()).toEqual(['r']);
  });
});

import { Plexus } from '../src';
import { parseRuleEntry } from '../src/cluster/rule-entries';
import { Rules } from '../src/app/rules';
import { invokerWeight, PlexusError, RpcCode, RpcError, URL, type Invocation, type Invoker, type LoadBalance, type RouteRule, type Router } from '../src/spi';
import { MemoryRegistry, memoryRegistryPlugin } from '../src/testing';

/**
 * Dynamic rules and overrides (issue 9 item 5) over the in-memory registry: entries under
 * `routers`/`configurators` change running references, and `app.rules` writes, lists and removes
 * them. Providers are fake invokers of an `addr` protocol that answer with where the call went.
 */

/** How many protocol invokers were created, by address: an override must not create new ones. */
const referred = new Map<string, number>();
/** Calls that reached each address, by method. */
const attempts = new Map<string, number>();

const addressProtocol = {
  name: 'rules-address-protocol',
  extensions: [
    {
      point: 'protocol',
      name: 'addr',
      create: () => ({
        defaultPort: 1,
        export: async () => {
          throw new Error('consumer only');
        },
        refer: (url: URL): Invoker => {
          referred.set(url.address, (referred.get(url.address) ?? 0) + 1);
          return {
            url,
            invoke: async (inv: Invocation) => {
              attempts.set(inv.method, (attempts.get(inv.method) ?? 0) + 1);
              if (inv.method === 'fail') throw new RpcError(`down at ${url.address}`, RpcCode.NETWORK);
              if (inv.method === 'slow') await new Promise((r) => setTimeout(r, Number(inv.args[0])));
              return { value: { address: url.address, group: inv.group, key: inv.serviceKey } };
            },
          };
        },
        destroy: async () => undefined,
      }),
    },
  ],
};

/** The weights the balancer saw last, by address. */
let seenWeights: Record<string, number> = {};
/** A weighted balancer that always takes the heaviest provider (ties: the first), and records what it saw. */
const heaviest = {
  name: 'rules-heaviest',
  extensions: [
    {
      point: 'loadbalance',
      name: 'heaviest',
      create: (): LoadBalance => ({
        select(invokers: readonly Invoker[]) {
          seenWeights = {};
          let best = invokers[0];
          for (const i of invokers) {
            seenWeights[i.url.address] = invokerWeight(i);
            if (invokerWeight(i) > invokerWeight(best)) best = i;
          }
          return best;
        },
      }),
    },
  ],
};

/** Rules each `keep` router instance was given, in order; `keep` keeps the providers whose address is in its rule bodies. */
const delivered: Array<{ router: string; rules: RouteRule[] }> = [];
function keepRouter(name: string): Router {
  let all: readonly Invoker[] = [];
  let keep: readonly Invoker[] | undefined;
  let rules: readonly RouteRule[] = [];
  const compute = () => {
    keep = rules.length === 0 ? undefined : all.filter((i) => rules.some((r) => r.body.split(',').includes(i.url.address)));
  };
  return {
    notify(invokers) {
      all = invokers;
      compute();
    },
    setRules(next) {
      if (next.some((r) => r.body === 'refuse')) throw new PlexusError('PLEXUS_ERR_TEST_ROUTER_RULE', 'keep: "refuse" is not an address');
      delivered.push({ router: name, rules: [...next] });
      rules = next;
      compute();
    },
    route(invokers) {
      return keep === undefined ? invokers : invokers.filter((i) => keep!.includes(i));
    },
  };
}
const routers = {
  name: 'rules-routers',
  extensions: [
    { point: 'router', name: 'keep', create: () => keepRouter('keep') },
    { point: 'router', name: 'keep-too', create: () => keepRouter('keep-too') },
    { point: 'router', name: 'plain', create: (): Router => ({ route: (i) => i }) },
  ],
};

/** Polls `cond` (sync or async) every 20 ms until it holds; fails naming `what` after `ms`. */
async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Where = { address: string; group: string; key: string };
type Svc = { where(): Promise<Where>; slow(ms: number): Promise<Where>; fail(): Promise<Where> };

const NS = 'dynamic-rules';
const IFACE = 'rules.Svc';
const apps: Plexus[] = [];

function consumerApp(reference: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Plexus {
  const app = Plexus.create({
    logLevel: 'silent',
    application: { name: 'rules-consumer' },
    protocols: [{ name: 'addr' }],
    registry: { type: 'memory', namespace: NS },
    references: { svc: { interface: IFACE, check: false, retries: 0, loadbalance: 'heaviest', timeout: 2000, ...reference } },
    ...extra,
  });
  app.use(memoryRegistryPlugin).use(addressProtocol as never).use(heaviest as never).use(routers as never);
  apps.push(app);
  return app;
}

/** The registry as an operator (or another process) sees it. */
function registry(): MemoryRegistry {
  return new MemoryRegistry({ namespace: NS });
}

async function providers(r: MemoryRegistry, hosts: number[], params: Record<string, string> = {}): Promise<void> {
  for (const n of hosts) await r.register(new URL('addr', `10.0.0.${n}`, 1, IFACE, { side: 'provider', weight: '100', ...params }));
}

async function started(app: Plexus): Promise<Svc> {
  await app.start();
  const svc = app.reference<Svc>('svc');
  await waitFor(async () => (await svc.where()) !== undefined, 5000, 'a first call');
  return svc;
}

async function destinations(svc: Svc, n = 6): Promise<string[]> {
  const out = new Set<string>();
  for (let i = 0; i < n; i++) out.add((await svc.where()).address);
  return [...out].sort();
}

beforeEach(() => {
  referred.clear();
  attempts.clear();
  delivered.length = 0;
  seenWeights = {};
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
  MemoryRegistry.reset(NS);
});

describe('rule entries', () => {
  const parse = (text: string) => parseRuleEntry(URL.parse(text));

  it('reads a routing rule and an override with their defaults', () => {
    const r = parse(`route://0.0.0.0/${IFACE}?category=routers&id=r1&router=condition&rule=${encodeURIComponent('method = find* => region = hz')}`);
    expect(r.ok && r.entry.kind === 'route' && r.entry.rule).toEqual({ id: 'r1', router: 'condition', body: 'method = find* => region = hz', priority: 0, force: false, enabled: true });
    const o = parse(`override://10.0.0.1:20880/${IFACE}?category=configurators&id=o1&weight=200&disabled=false`);
    expect(o.ok && o.entry.kind === 'override' && { address: o.entry.address, weight: o.entry.weight, disabled: o.entry.disabled }).toEqual({
      address: '10.0.0.1:20880',
      weight: 200,
      disabled: false,
    });
    const s = parse(`override://0.0.0.0/${IFACE}?timeout=300&retries=1&find.timeout=50&version=1.0.0&dynamic=false`);
    expect(s.ok && s.entry.kind === 'override' && { service: s.entry.service, methods: { ...s.entry.methods }, scope: s.entry.scope, id: s.entry.id.startsWith('override-') }).toEqual({
      service: { timeout: 300, retries: 1 },
      methods: { find: { timeout: 50 } },
      scope: { version: '1.0.0' },
      id: true,
    });
  });

  it.each([
    ['an unknown key, with a suggestion', `override://0.0.0.0/${IFACE}?wieght=200`, 'did you mean "weight"'],
    ['a weight that is not an integer', `override://0.0.0.0/${IFACE}?weight=heavy`, 'weight must be an integer'],
    ['a weight out of range', `override://0.0.0.0/${IFACE}?weight=99999999`, 'between 0 and 1000000'],
    ['retries past the cap', `override://0.0.0.0/${IFACE}?retries=5000`, 'between 0 and 100'],
    ['timeout on one provider', `override://10.0.0.1:1/${IFACE}?timeout=100`, 'write them on 0.0.0.0'],
    ['an override that sets nothing', `override://0.0.0.0/${IFACE}?id=x`, 'it sets nothing'],
    ['a bad method setting', `override://0.0.0.0/${IFACE}?find.tiemout=3`, 'did you mean "find.timeout"'],
    ['a bad boolean', `override://0.0.0.0/${IFACE}?disabled=yes`, 'disabled must be true or false'],
    ['a route without a router', `route://0.0.0.0/${IFACE}?rule=x`, 'router is missing'],
    ['a route with an empty rule', `route://0.0.0.0/${IFACE}?router=tag&rule=%20`, 'rule is missing or empty'],
    ['a route for one provider', `route://10.0.0.1:1/${IFACE}?router=tag&rule=x`, 'must be 0.0.0.0'],
    ['a rule body over the limit', `route://0.0.0.0/${IFACE}?router=tag&rule=${'x'.repeat(16 * 1024 + 1)}`, 'over the 16384 accepted'],
    ['a bad id', `route://0.0.0.0/${IFACE}?router=tag&rule=x&id=${encodeURIComponent('../etc')}`, 'id "../etc" must be'],
    ['another scheme', `plexus://0.0.0.0/${IFACE}?category=routers`, 'must be route://'],
    ['a category that does not fit', `route://0.0.0.0/${IFACE}?category=configurators&router=tag&rule=x`, 'belongs in category routers'],
  ])('refuses %s with PLEXUS_ERR_RULE_MALFORMED', (_what, text, message) => {
    const r = parse(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('PLEXUS_ERR_RULE_MALFORMED');
      expect(r.error.message).toContain(message);
    }
  });

  it('app.rules builds the same entries and refuses a malformed spec before writing', () => {
    const url = Rules.overrideEntry({ interface: IFACE, address: '10.0.0.2:1', weight: 300, id: 'w' });
    expect(url.toString()).toMatch(/^override:\/\/10\.0\.0\.2:1\/rules\.Svc\?category=configurators&id=w&timestamp=\d+&weight=300$/);
    const route = Rules.routeEntry({ interface: IFACE, router: 'tag', rule: 'a => b', priority: 2, force: true });
    expect(route.params).toMatchObject({ category: 'routers', router: 'tag', rule: 'a => b', priority: '2', force: 'true' });
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err as PlexusError;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal(() => Rules.overrideEntry({ interface: IFACE, weight: -1 })).code).toBe('PLEXUS_ERR_RULE_MALFORMED');
    expect(refusal(() => Rules.overrideEntry({ interface: IFACE, wieght: 5 } as never)).message).toContain('did you mean "weight"');
    expect(refusal(() => Rules.overrideEntry({ interface: IFACE, address: 'a/b', weight: 1 })).message).toContain('is not 0.0.0.0, a host or host:port');
    expect(refusal(() => Rules.routeEntry({ interface: '', router: 'tag', rule: 'x' })).message).toContain('interface is missing');
    expect(refusal(() => Rules.routeEntry({ interface: IFACE, router: 'Tag!', rule: 'x' })).message).toContain('is not a router name');
  });
});

describe('overrides change running references', () => {
  it('a weight override changes what a weighted balancer sees, on the same invokers; removing it restores the weight', async () => {
    const r = registry();
    await providers(r, [1, 2]);
    const app = consumerApp();
    const svc = await started(app);
    expect((await svc.where()).address).toBe('10.0.0.1:1');
    expect(seenWeights).toEqual({ '10.0.0.1:1': 100, '10.0.0.2:1': 100 });

    const info = await app.rules.override({ interface: IFACE, address: '10.0.0.2:1', weight: 900, id: 'shift' });
    expect(info.override).toMatchObject({ address: '10.0.0.2:1', weight: 900 });
    await waitFor(async () => (await svc.where()).address === '10.0.0.2:1', 5000, 'traffic on the heavier provider');
    expect(seenWeights).toEqual({ '10.0.0.1:1': 100, '10.0.0.2:1': 900 });
    // One protocol invoker per provider, before and after: the override reused them.
    expect(Object.fromEntries(referred)).toEqual({ '10.0.0.1:1': 1, '10.0.0.2:1': 1 });

    // A wildcard override applies to every provider; the provider-specific one still wins.
    await app.rules.override({ interface: IFACE, weight: 50, id: 'all' });
    await waitFor(async () => (await svc.where()) && seenWeights['10.0.0.1:1'] === 50, 5000, 'the wildcard weight');
    expect(seenWeights['10.0.0.2:1']).toBe(900);

    expect(await app.rules.remove('shift')).toBe(1);
    expect(await app.rules.remove('all', IFACE)).toBe(1);
    await waitFor(async () => (await svc.where()).address === '10.0.0.1:1' && seenWeights['10.0.0.2:1'] === 100, 5000, 'weights back to 100');
    expect(Object.fromEntries(referred)).toEqual({ '10.0.0.1:1': 1, '10.0.0.2:1': 1 });
  });

  it('disabled takes a provider out (by host:port or by host); disabled=false on one address brings it back', async () => {
    const r = registry();
    await providers(r, [1, 2, 3]);
    const app = consumerApp({ loadbalance: 'roundrobin' });
    const svc = await started(app);
    expect(await destinations(svc)).toEqual(['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1']);
    await app.rules.override({ interface: IFACE, address: '10.0.0.1:1', disabled: true, id: 'off1' });
    await app.rules.override({ interface: IFACE, address: '10.0.0.2', disabled: true, id: 'off2' });
    await waitFor(async () => (await destinations(svc)).join() === '10.0.0.3:1', 5000, 'two providers disabled');
    await app.rules.override({ interface: IFACE, disabled: true, id: 'all-off' });
    await app.rules.override({ interface: IFACE, address: '10.0.0.2:1', disabled: false, id: 'on2' });
    await waitFor(async () => (await destinations(svc)).join() === '10.0.0.2:1', 5000, 'only the re-enabled provider');
    for (const id of ['off1', 'off2', 'all-off', 'on2']) await app.rules.remove(id);
    await waitFor(async () => (await destinations(svc)).length === 3, 5000, 'every provider back');
  });

  it('timeout and retries overrides change a running reference, per reference and per method', async () => {
    const r = registry();
    await providers(r, [1, 2, 3]);
    const app = consumerApp({ retries: 2, loadbalance: 'roundrobin', timeout: 2000 });
    const svc = await started(app);
    expect((await svc.slow(150)).address).toMatch(/^10\.0\.0\./);
    await expect(svc.fail()).rejects.toMatchObject({ code: RpcCode.NETWORK });
    expect(attempts.get('fail')).toBe(3);

    await app.rules.override({ interface: IFACE, timeout: 50, retries: 0, id: 'tight' });
    await waitFor(
      async () => {
        attempts.delete('fail');
        await svc.fail().catch(() => undefined);
        return attempts.get('fail') === 1;
      },
      5000,
      'retries 0 in force',
    );
    await expect(svc.slow(300)).rejects.toMatchObject({ code: RpcCode.TIMEOUT });
    // A method-level override beats the reference-level one.
    await app.rules.override({ interface: IFACE, methods: { slow: { timeout: 2000 } }, id: 'slow-ok' });
    await waitFor(async () => (await svc.slow(150).then(() => true, () => false)), 5000, 'slow has its own timeout again');
    await expect(svc.slow(300)).resolves.toMatchObject({ address: expect.stringMatching(/^10\.0\.0\./) });

    await app.rules.remove('tight');
    await app.rules.remove('slow-ok');
    await waitFor(
      async () => {
        attempts.delete('fail');
        await svc.fail().catch(() => undefined);
        return attempts.get('fail') === 3;
      },
      5000,
      'the configured retries back',
    );
  });

  it('a malformed entry is refused with a logged coded error and the rule of that id stays in force', async () => {
    const r = registry();
    await providers(r, [1, 2]);
    const app = consumerApp();
    const errors = jest.spyOn(app.logger, 'error');
    const svc = await started(app);
    await r.register(URL.parse(`override://10.0.0.2:1/${IFACE}?category=configurators&id=w&weight=700&timestamp=1`));
    await waitFor(async () => (await svc.where()).address === '10.0.0.2:1', 5000, 'the valid override');
    // A newer version of the same rule, malformed: refused, logged once, the old one stays.
    await r.register(URL.parse(`override://10.0.0.2:1/${IFACE}?category=configurators&id=w&weight=lots&timestamp=2`));
    await waitFor(() => errors.mock.calls.some(([, f]) => (f as { code?: string })?.code === 'PLEXUS_ERR_RULE_MALFORMED'), 5000, 'the coded error');
    const logged = errors.mock.calls.filter(([, f]) => (f as { code?: string })?.code === 'PLEXUS_ERR_RULE_MALFORMED');
    expect(logged).toHaveLength(1);
    expect(String(logged[0][0])).toContain('weight must be an integer');
    expect((await svc.where()).address).toBe('10.0.0.2:1');
    expect(seenWeights['10.0.0.2:1']).toBe(700);
    // Another change of the list does not log it again.
    await providers(r, [3]);
    await waitFor(async () => (await svc.where()) && Object.keys(seenWeights).length === 3, 5000, 'the third provider');
    expect(errors.mock.calls.filter(([, f]) => (f as { code?: string })?.code === 'PLEXUS_ERR_RULE_MALFORMED')).toHaveLength(1);
    // A malformed rule that replaces nothing changes nothing either.
    await r.register(URL.parse(`override://0.0.0.0/${IFACE}?category=configurators&id=other&retries=-1`));
    await waitFor(() => errors.mock.calls.filter(([, f]) => (f as { code?: string })?.code === 'PLEXUS_ERR_RULE_MALFORMED').length === 2, 5000, 'the second coded error');
    expect((await svc.where()).address).toBe('10.0.0.2:1');
    // list shows both versions, the malformed one with its problem.
    const listed = await app.rules.list(IFACE);
    expect(listed.filter((i) => i.id === 'w').map((i) => i.problem === undefined).sort()).toEqual([false, true]);
    expect(listed.find((i) => i.id === 'other')?.problem).toContain('PLEXUS_ERR_RULE_MALFORMED');
  });

  it('rules are scoped by version, group and application; a disabled override is stored but not applied', async () => {
    const r = registry();
    await providers(r, [1, 2], { version: '1.0.0' });
    const app = consumerApp({ version: '1.0.0' });
    const svc = await started(app);
    await app.rules.override({ interface: IFACE, address: '10.0.0.2:1', weight: 500, version: '2.0.0', id: 'v2' });
    await app.rules.override({ interface: IFACE, address: '10.0.0.2:1', weight: 600, application: 'someone-else', id: 'app' });
    await app.rules.override({ interface: IFACE, address: '10.0.0.2:1', weight: 650, group: 'g', id: 'grp' });
    await app.rules.override({ interface: IFACE, address: '10.0.0.2:1', weight: 400, application: 'rules-consumer', version: '1.0.0', id: 'mine' });
    await waitFor(async () => (await svc.where()) && seenWeights['10.0.0.2:1'] === 400, 5000, 'only the override scoped to this reference');
    // Written later for the same address, so it would win if it applied; then a new provider marks a later notification.
    await app.rules.override({ interface: IFACE, address: '10.0.0.2:1', weight: 999, enabled: false, id: 'stored-only' });
    await providers(r, [3], { version: '1.0.0' });
    await waitFor(async () => (await svc.where()) && Object.keys(seenWeights).length === 3, 5000, 'the third provider');
    expect(seenWeights['10.0.0.2:1']).toBe(400);
    expect((await app.rules.list(IFACE)).map((i) => i.id).sort()).toEqual(['app', 'grp', 'mine', 'stored-only', 'v2']);
  });
});

describe('routing rules reach the routers', () => {
  it('a listed router gets its rules, a named one is created on demand, a missing one is a coded warning, removal empties them', async () => {
    const r = registry();
    await providers(r, [1, 2, 3]);
    const app = consumerApp({ router: ['keep'], loadbalance: 'roundrobin' });
    const warn = jest.spyOn(app.logger, 'warn');
    const svc = await started(app);
    expect(await destinations(svc)).toEqual(['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1']);

    await app.rules.route({ interface: IFACE, router: 'keep', rule: '10.0.0.1:1,10.0.0.2:1', id: 'k1', priority: 1 });
    await waitFor(async () => (await destinations(svc)).join() === '10.0.0.1:1,10.0.0.2:1', 5000, 'the listed router applying its rule');
    expect(delivered.at(-1)).toEqual({ router: 'keep', rules: [{ id: 'k1', router: 'keep', body: '10.0.0.1:1,10.0.0.2:1', priority: 1, force: false, enabled: true }] });

    // keep-too is installed but not listed by the reference: created on demand, in the same chain.
    await app.rules.route({ interface: IFACE, router: 'keep-too', rule: '10.0.0.2:1,10.0.0.3:1', id: 'k2' });
    await waitFor(async () => (await destinations(svc)).join() === '10.0.0.2:1', 5000, 'both routers applying');

    // Disabled rules are not delivered; a router nobody installed gets a coded warning; one without setRules too.
    await app.rules.route({ interface: IFACE, router: 'keep', rule: '10.0.0.3:1', id: 'k3', enabled: false });
    await app.rules.route({ interface: IFACE, router: 'nosuch', rule: 'x', id: 'n1' });
    await app.rules.route({ interface: IFACE, router: 'plain', rule: 'x', id: 'p1' });
    const codes = () => warn.mock.calls.map(([, f]) => (f as { code?: string })?.code);
    await waitFor(() => codes().includes('PLEXUS_ERR_RULE_ROUTER_MISSING') && codes().includes('PLEXUS_ERR_RULE_ROUTER_STATIC'), 5000, 'the coded warnings');
    expect(delivered.filter((d) => d.router === 'keep').at(-1)!.rules.map((x) => x.id)).toEqual(['k1']);
    expect(await destinations(svc)).toEqual(['10.0.0.2:1']);

    await app.rules.remove('k2');
    await waitFor(() => delivered.at(-1)?.router === 'keep-too' && delivered.at(-1)!.rules.length === 0, 5000, 'keep-too told its rules are gone');
    expect(await destinations(svc)).toEqual(['10.0.0.1:1', '10.0.0.2:1']);
  });

  it('a router that refuses new rules keeps the previous ones, with a logged coded error', async () => {
    const r = registry();
    await providers(r, [1, 2]);
    const app = consumerApp({ router: 'keep', loadbalance: 'roundrobin' });
    const errors = jest.spyOn(app.logger, 'error');
    const svc = await started(app);
    await app.rules.route({ interface: IFACE, router: 'keep', rule: '10.0.0.1:1', id: 'k' });
    await waitFor(async () => (await destinations(svc)).join() === '10.0.0.1:1', 5000, 'the first rule');
    await app.rules.route({ interface: IFACE, router: 'keep', rule: 'refuse', id: 'k' });
    await waitFor(() => errors.mock.calls.some(([, f]) => (f as { code?: string })?.code === 'PLEXUS_ERR_RULE_REJECTED'), 5000, 'the refusal logged');
    expect(String(errors.mock.calls.find(([, f]) => (f as { code?: string })?.code === 'PLEXUS_ERR_RULE_REJECTED')![0])).toContain('PLEXUS_ERR_TEST_ROUTER_RULE');
    expect(await destinations(svc)).toEqual(['10.0.0.1:1']);
    // Replacing by id left one entry.
    expect((await app.rules.list(IFACE)).filter((i) => i.id === 'k')).toHaveLength(1);
  });
});

describe('app.rules', () => {
  it('lists every interface, replaces by id, and refuses to remove what is not there', async () => {
    const app = consumerApp();
    await app.rules.route({ interface: IFACE, router: 'tag', rule: 'a', id: 'same' });
    await app.rules.route({ interface: IFACE, router: 'tag', rule: 'b', id: 'same' });
    await app.rules.override({ interface: 'rules.Other', weight: 3, id: 'o' });
    // The memory registry cannot enumerate interfaces: list() covers those the application refers to.
    const all = await app.rules.list();
    expect(all.map((i) => [i.interface, i.id, i.route?.body ?? i.override?.weight])).toEqual([[IFACE, 'same', 'b']]);
    expect((await app.rules.list('rules.Other')).map((i) => [i.interface, i.id, i.override?.weight])).toEqual([['rules.Other', 'o', 3]]);
    await expect(app.rules.remove('nope')).rejects.toMatchObject({ code: 'PLEXUS_ERR_RULE_NOT_FOUND' });
    await expect(app.rules.override({ interface: IFACE, weight: 1.5 })).rejects.toMatchObject({ code: 'PLEXUS_ERR_RULE_MALFORMED' });
    expect(await app.rules.list(IFACE)).toHaveLength(1);
  });

  it('with registry: none the rules live in the process and reach direct-URL references', async () => {
    const app = Plexus.create({
      logLevel: 'silent',
      application: { name: 'rules-none' },
      protocols: [{ name: 'addr' }],
      registry: { type: 'none' },
      references: { svc: { interface: IFACE, url: 'addr://10.0.0.1:1?weight=100,addr://10.0.0.2:1?weight=100', check: false, retries: 0, loadbalance: 'heaviest' } },
    });
    app.use(addressProtocol as never).use(heaviest as never);
    apps.push(app);
    await app.start();
    const svc = app.reference<Svc>('svc');
    expect((await svc.where()).address).toBe('10.0.0.1:1');
    await app.rules.override({ interface: IFACE, address: '10.0.0.2:1', weight: 800, id: 'w' });
    expect((await svc.where()).address).toBe('10.0.0.2:1');
    expect((await app.rules.list()).map((i) => i.id)).toEqual(['w']);
    await app.rules.remove('w');
    expect((await svc.where()).address).toBe('10.0.0.1:1');
  });
});

describe('group', () => {
  it('a comma list merges the providers of those groups; each call reaches a provider under its own group', async () => {
    const r = registry();
    await providers(r, [1], { group: 'a' });
    await providers(r, [2], { group: 'b' });
    await providers(r, [3], { group: 'c' });
    await providers(r, [4]);
    const app = consumerApp({ group: 'a,b', loadbalance: 'roundrobin' });
    const svc = await started(app);
    const seen = new Map<string, Where>();
    for (let i = 0; i < 8; i++) {
      const w = await svc.where();
      seen.set(w.address, w);
    }
    expect([...seen.keys()].sort()).toEqual(['10.0.0.1:1', '10.0.0.2:1']);
    expect(seen.get('10.0.0.1:1')).toMatchObject({ group: 'a', key: `a/${IFACE}` });
    expect(seen.get('10.0.0.2:1')).toMatchObject({ group: 'b', key: `b/${IFACE}` });
  });

  it('* takes every group, the empty one included', async () => {
    const r = registry();
    await providers(r, [1], { group: 'a' });
    await providers(r, [2]);
    const app = consumerApp({ group: '*', loadbalance: 'roundrobin' });
    const svc = await started(app);
    const seen = new Map<string, Where>();
    for (let i = 0; i < 6; i++) {
      const w = await svc.where();
      seen.set(w.address, w);
    }
    expect(seen.get('10.0.0.1:1')).toMatchObject({ group: 'a', key: `a/${IFACE}` });
    expect(seen.get('10.0.0.2:1')).toMatchObject({ group: '', key: IFACE });
  });

  it('a single group stays isolated', async () => {
    const r = registry();
    await providers(r, [1], { group: 'a' });
    await providers(r, [2], { group: 'b' });
    const app = consumerApp({ group: 'b', loadbalance: 'roundrobin' });
    const svc = await started(app);
    expect(await destinations(svc)).toEqual(['10.0.0.2:1']);
  });
});

import { PlexusError } from '../errors/plexus-error';
import type { Invocation } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { RouteRule, Router } from '../spi/router';
import { URL } from '../url/url';
import { fakeInvocation, FakeInvoker, FAKE_SERVICE } from './fakes';

/** What the router contract routes; by default a mix that makes most routers keep some and drop some. */
export interface RouterContractOptions {
  /**
   * The providers to route (a fresh list per call). Default: six fake providers of `demo.Greeter`
   * with `tag` params `a`, `b` and none, `version` 1.0.0 and 2.0.0, one with `disabled=true`.
   */
  invokers?: () => Invoker[];
  /**
   * The calls to route. Default: `sayHello` with no attachment, with `plexus.tag` `a`, `b` and
   * `zzz`, with `plexus.tag` `a` forced (`plexus.tag.force: 'true'`), and `sayGoodbye` with
   * `plexus.tag` `a`. Give calls your router acts on so its choices are exercised.
   */
  invocations?: () => Invocation[];
  /**
   * For routers with `setRules`: rules that parse and change some answer, and rules that are
   * malformed. With them the suite checks that a malformed rule throws a coded `PlexusError`
   * and leaves routing as it was, that an empty list removes the rules, and repeats the subset
   * checks with the rules in force. A router with `setRules` and no `rules` here fails the suite:
   * its rule handling must be exercised.
   */
  rules?: RouterContractRules;
  /** False for routers that choose by chance (e.g. sending a share of calls to a canary): the same-answer check is left out. Default true. */
  deterministic?: boolean;
}

/** Rules for the `setRules` part of the router contract. */
export interface RouterContractRules {
  /** Rules the router accepts; together they should change the answer for at least one call. */
  valid: () => RouteRule[];
  /** Rules each of which the router must refuse (one at a time, and mixed into `valid`). */
  malformed: () => RouteRule[];
  /** The consumer URL given to `setRules`. Default: host 10.0.0.100, application `contract-consumer`. */
  consumer?: URL;
}

/** The consumer the contract routes for unless told otherwise. */
export function contractConsumer(): URL {
  return new URL('consumer', '10.0.0.100', 0, FAKE_SERVICE, { application: 'contract-consumer', side: 'consumer' });
}

function defaultInvokers(): Invoker[] {
  const at = (n: number, params: string) => new FakeInvoker(`plexus://10.0.0.${n}:20880/${FAKE_SERVICE}?${params}`);
  return [
    at(1, 'tag=a&version=1.0.0'),
    at(2, 'tag=a&version=2.0.0'),
    at(3, 'tag=b&version=1.0.0'),
    at(4, 'version=1.0.0'),
    at(5, 'version=2.0.0&weight=50'),
    at(6, 'tag=b&disabled=true'),
  ];
}

function defaultInvocations(): Invocation[] {
  return [
    fakeInvocation(),
    fakeInvocation({ attachments: { 'plexus.tag': 'a' } }),
    fakeInvocation({ attachments: { 'plexus.tag': 'b' } }),
    fakeInvocation({ attachments: { 'plexus.tag': 'zzz' } }),
    fakeInvocation({ attachments: { 'plexus.tag': 'zzz', 'plexus.tag.force': 'true' } }),
    fakeInvocation({ method: 'sayGoodbye', attachments: { 'plexus.tag': 'a' } }),
  ];
}

/**
 * The behaviour every {@link Router} shares, as a jest suite: `route` is synchronous, returns a
 * subset of the invokers it was given (the same objects, each at most once), leaves its input alone
 * (a read-only array works), does no I/O on the invokers, handles an empty list, answers repeated
 * calls the same way, and follows a new list once notified (no stale precomputed answer). For
 * routers with `setRules`: a malformed rule throws a coded `PlexusError` and routing stays as it
 * was; an empty list removes the rules. Call it at the top level of a test file:
 * `routerContract('tag', () => new TagRouter(), { rules })`. `create` runs once per test.
 */
export function routerContract(name: string, create: () => Router | Promise<Router>, options: RouterContractOptions = {}): void {
  const invokers = options.invokers ?? defaultInvokers;
  const invocations = options.invocations ?? defaultInvocations;
  const deterministic = options.deterministic ?? true;
  const answers = (router: Router, list: readonly Invoker[], calls: Invocation[]) => calls.map((c) => [...router.route(list, c)]);

  describe(`router contract: ${name}`, () => {
    it('returns, synchronously, a subset of the given invokers: the same objects, each once', async () => {
      const router = await create();
      const list = invokers();
      for (const invocation of invocations()) {
        const routed: unknown = router.route(list, invocation);
        expect(routed).not.toBeInstanceOf(Promise);
        expect(Array.isArray(routed)).toBe(true);
        const out = routed as readonly Invoker[];
        for (const chosen of out) expect(list.includes(chosen)).toBe(true);
        expect(new Set(out).size).toBe(out.length);
      }
    });

    it('does not change the list it is given, and accepts a read-only one', async () => {
      const router = await create();
      const list = invokers();
      const copy = list.slice();
      const urls = list.map((i) => i.url.toString());
      for (const invocation of invocations()) router.route(list, invocation);
      expect(list).toEqual(copy);
      list.forEach((inv, i) => expect(inv).toBe(copy[i]));
      expect(list.map((i) => i.url.toString())).toEqual(urls);
      const frozen = Object.freeze(invokers());
      for (const invocation of invocations()) {
        for (const chosen of router.route(frozen, invocation)) expect(frozen.includes(chosen)).toBe(true);
      }
    });

    it('handles an empty list', async () => {
      const router = await create();
      for (const invocation of invocations()) {
        const out = router.route([], invocation);
        expect(Array.isArray(out)).toBe(true);
        expect(out).toHaveLength(0);
      }
    });

    it('does not call, destroy or otherwise use the invokers it routes', async () => {
      const router = await create();
      const list = invokers();
      for (const invocation of invocations()) router.route(list, invocation);
      for (const inv of list) {
        if (inv instanceof FakeInvoker) {
          expect(inv.calls).toBe(0);
          expect(inv.destroyed).toBe(false);
        }
      }
    });

    it('does not change the invocation, and gives the same answer for the same call and list (when deterministic)', async () => {
      const router = await create();
      const list = invokers();
      for (const invocation of invocations()) {
        const attachments = { ...invocation.attachments };
        const first = router.route(list, invocation);
        const second = router.route(list, invocation);
        if (deterministic) expect([...second]).toEqual([...first]);
        expect(invocation.attachments).toEqual(attachments);
      }
    });

    it('declares its priority, when it has one, as a finite number', async () => {
      const router = await create();
      if (router.priority !== undefined) expect(Number.isFinite(router.priority)).toBe(true);
      else expect(router.priority).toBeUndefined();
    });

    it('gives the same answers with and without notify, and follows a new list once notified', async () => {
      const list = invokers();
      const calls = invocations();
      const plain = await create();
      const expected = answers(plain, list, calls);
      const router = await create();
      router.notify?.(list);
      expect(answers(router, list, calls)).toEqual(expected);
      expect(answers(router, list, calls)).toEqual(expected);
      // A new list (one provider gone): every answer comes from it, none from the old one.
      const smaller = list.slice(1);
      router.notify?.(smaller);
      for (const call of calls) for (const chosen of router.route(smaller, call)) expect(smaller.includes(chosen)).toBe(true);
      expect(answers(router, smaller, calls)).toEqual(answers(await create(), smaller, calls));
    });

    it('takes dynamic rules when it has setRules (a router with setRules must be given contract rules)', async () => {
      const router = await create();
      if (typeof router.setRules !== 'function') {
        expect(router.setRules).toBeUndefined();
        return;
      }
      expect(options.rules).toBeDefined();
      expect(options.rules!.malformed().length).toBeGreaterThan(0);
    });

    const rules = options.rules;
    if (rules === undefined) return;
    const consumer = rules.consumer ?? contractConsumer();

    it('rules: the valid rules are accepted and change at least one answer', async () => {
      const list = invokers();
      const calls = invocations();
      const router = await create();
      router.notify?.(list);
      const before = answers(router, list, calls);
      router.setRules!(rules.valid(), consumer);
      expect(answers(router, list, calls)).not.toEqual(before);
    });

    it('rules: answers stay subsets of the input, the input untouched, with the rules in force', async () => {
      const list = invokers();
      const copy = list.slice();
      const router = await create();
      router.notify?.(list);
      router.setRules!(rules.valid(), consumer);
      for (const call of invocations()) {
        const out = router.route(list, call);
        for (const chosen of out) expect(list.includes(chosen)).toBe(true);
        expect(new Set(out).size).toBe(out.length);
        expect(router.route([], call)).toHaveLength(0);
        if (deterministic) expect([...router.route(list, call)]).toEqual([...out]);
      }
      expect(list).toEqual(copy);
    });

    it('rules: a malformed rule throws a coded PlexusError and routing stays as it was', async () => {
      const list = invokers();
      const calls = invocations();
      const router = await create();
      router.notify?.(list);
      router.setRules!(rules.valid(), consumer);
      const inForce = answers(router, list, calls);
      for (const bad of rules.malformed()) {
        for (const attempt of [[bad], [...rules.valid(), bad], [bad, ...rules.valid()]]) {
          let thrown: unknown;
          try {
            router.setRules!(attempt, consumer);
          } catch (err) {
            thrown = err;
          }
          expect(PlexusError.is(thrown)).toBe(true);
          expect((thrown as PlexusError).code).toMatch(/^PLEXUS_ERR_[A-Z0-9]+(_[A-Z0-9]+)+$/);
          expect(answers(router, list, calls)).toEqual(inForce);
        }
      }
    });

    it('rules: an empty list removes the rules', async () => {
      const list = invokers();
      const calls = invocations();
      const router = await create();
      router.notify?.(list);
      const unruled = answers(router, list, calls);
      router.setRules!(rules.valid(), consumer);
      router.setRules!([], consumer);
      expect(answers(router, list, calls)).toEqual(unruled);
    });
  });
}

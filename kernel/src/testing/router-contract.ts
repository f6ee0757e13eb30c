import type { Invocation } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Router } from '../spi/router';
import { fakeInvocation, FakeInvoker, FAKE_SERVICE } from './fakes';

/** What the router contract routes; by default a mix that makes most routers keep some and drop some. */
export interface RouterContractOptions {
  /**
   * The providers to route (a fresh list per call). Default: six fake providers of `demo.Greeter`
   * with `tag` params `a`, `b` and none, `version` 1.0.0 and 2.0.0, one with `disabled=true`.
   */
  invokers?: () => Invoker[];
  /**
   * The calls to route. Default: `sayHello` with no attachment, `tag=a`, `tag=b` and `tag=zzz`,
   * and `sayGoodbye` with `tag=a`. Give calls your router acts on so its choices are exercised.
   */
  invocations?: () => Invocation[];
  /** False for routers that choose by chance (e.g. sending a share of calls to a canary): the same-answer check is left out. Default true. */
  deterministic?: boolean;
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
    fakeInvocation({ attachments: { tag: 'a' } }),
    fakeInvocation({ attachments: { tag: 'b' } }),
    fakeInvocation({ attachments: { tag: 'zzz' } }),
    fakeInvocation({ method: 'sayGoodbye', attachments: { tag: 'a' } }),
  ];
}

/**
 * The behaviour every {@link Router} shares, as a jest suite: `route` is synchronous, returns a
 * subset of the invokers it was given (the same objects, each at most once), leaves its input alone
 * (a read-only array works), does no I/O on the invokers, and handles an empty list. Call it at
 * the top level of a test file: `routerContract('tag', () => new TagRouter())`. `create` runs once
 * per test.
 */
export function routerContract(name: string, create: () => Router | Promise<Router>, options: RouterContractOptions = {}): void {
  const invokers = options.invokers ?? defaultInvokers;
  const invocations = options.invocations ?? defaultInvocations;
  const deterministic = options.deterministic ?? true;

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
  });
}

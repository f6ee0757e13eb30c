import type { NotifyListener, Registry } from '../spi/registry';
import { URL } from '../url/url';
import { waitFor } from './wait-for';

/** Switches for registries whose backend is slower or rewrites URLs. */
export interface RegistryContractOptions {
  /**
   * Upper bound for one wait on a notification, in ms (default 10000); a guard against hangs, not a
   * timing assertion. Raise it for backends that batch changes (watch intervals, TTL sweeps).
   */
  waitLimit?: number;
  /**
   * How two provider URLs are told apart and compared (default `url.toString()`, which is canonical).
   * A backend that adds parameters of its own (a timestamp, a lease id) returns a key without them.
   */
  urlKey?: (url: URL) => string;
  /** Host of the provider URLs the suite registers (default `10.0.0.<n>`, never contacted). */
  host?: (n: number) => string;
}

/** A listener that keeps every list it was given. */
class Recorder {
  readonly lists: URL[][] = [];
  readonly listener: NotifyListener = (urls) => {
    this.lists.push([...urls]);
  };
  constructor(private readonly key: (url: URL) => string) {}

  get count(): number {
    return this.lists.length;
  }

  /** The latest list as sorted keys, or undefined before the first notification. */
  latest(): string[] | undefined {
    const last = this.lists[this.lists.length - 1];
    return last === undefined ? undefined : keys(last, this.key);
  }

  /** Whether the latest list holds exactly `urls`. */
  sees(urls: readonly URL[]): boolean {
    const latest = this.latest();
    return latest !== undefined && same(latest, keys(urls, this.key));
  }
}

function keys(urls: readonly URL[], key: (url: URL) => string): string[] {
  return urls.map(key).sort();
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

let serial = 0;

/**
 * The behaviour every {@link Registry} must show, as a jest suite: lists seen by a subscriber after
 * register, unregister, close and unsubscribe; full lists rather than deltas; one interface only
 * (version and group travel in the URL parameters and are not filtered — the kernel's directory
 * does that); idempotent register. Call it at the top level of a test file:
 * `registryContract('zookeeper', () => new ZookeeperRegistry({ address }))`.
 *
 * `create` is called once per registry instance a test needs (up to three, standing for separate
 * applications); instances created in one test must share a backend. Every test uses interfaces
 * of its own, so state left in a real backend does not leak into the next test. Every instance is
 * closed after its test. `unsubscribe` is called with a URL equal to (not the same object as) the
 * one given to `subscribe`, as a reference rebuilt from config would. Waits are bounded by `waitLimit` and end as soon as the awaited
 * notification arrives; nothing sleeps for a fixed time.
 */
export function registryContract(name: string, create: () => Registry | Promise<Registry>, options: RegistryContractOptions = {}): void {
  const waitLimit = options.waitLimit ?? 10_000;
  const key = options.urlKey ?? ((url: URL) => url.toString());
  const host = options.host ?? ((n: number) => `10.0.0.${n}`);

  describe(`registry contract: ${name}`, () => {
    let open: Registry[] = [];
    let iface = '';
    let other = '';

    beforeEach(() => {
      serial++;
      const unique = `${process.pid}x${Date.now().toString(36)}x${serial}`;
      iface = `plexus.contract.Greeter${unique}`;
      other = `plexus.contract.Other${unique}`;
    });

    afterEach(async () => {
      const closing = open;
      open = [];
      for (const r of closing) await r.close().catch(() => undefined);
    });

    async function registry(): Promise<Registry> {
      const r = await create();
      open.push(r);
      return r;
    }

    /** A provider URL of `path` at `10.0.0.<n>:20880`, with the parameters a kernel puts there. */
    function provider(n: number, path = iface, params: Record<string, string> = {}): URL {
      return new URL('plexus', host(n), 20880, path, { application: `app${n}`, side: 'provider', weight: '100', ...params });
    }

    function consumer(path = iface, params: Record<string, string> = {}): URL {
      return new URL('consumer', host(200), 0, path, { application: 'client', side: 'consumer', ...params });
    }

    function recorder(): Recorder {
      return new Recorder(key);
    }

    const until = (predicate: () => boolean, what: string) => waitFor(predicate, waitLimit, what);

    it('register then subscribe: the subscriber is told the current list', async () => {
      const r = await registry();
      const p1 = provider(1);
      await r.register(p1);
      const seen = recorder();
      await r.subscribe(consumer(), seen.listener);
      await until(() => seen.sees([p1]), 'the list with the provider');
      const [only] = seen.lists[seen.lists.length - 1];
      expect(only.path).toBe(iface);
      expect(only.params.application).toBe('app1');
    });

    it('subscribe with no provider: the subscriber is told the empty list', async () => {
      const r = await registry();
      const seen = recorder();
      await r.subscribe(consumer(), seen.listener);
      // The directory holds calls until this first notification; an empty list must arrive too.
      await until(() => seen.count > 0, 'the first notification');
      expect(seen.latest()).toEqual([]);
    });

    it('subscribe then register: the subscriber of another instance is notified', async () => {
      const providerSide = await registry();
      const consumerSide = await registry();
      const seen = recorder();
      await consumerSide.subscribe(consumer(), seen.listener);
      const p1 = provider(1);
      await providerSide.register(p1);
      await until(() => seen.sees([p1]), 'the list with the new provider');
    });

    it('unregister: the subscriber is told the list without it, down to the empty list', async () => {
      const providerSide = await registry();
      const consumerSide = await registry();
      const [p1, p2] = [provider(1), provider(2)];
      await providerSide.register(p1);
      await providerSide.register(p2);
      const seen = recorder();
      await consumerSide.subscribe(consumer(), seen.listener);
      await until(() => seen.sees([p1, p2]), 'both providers');
      await providerSide.unregister(p1);
      await until(() => seen.sees([p2]), 'the list without the unregistered provider');
      await providerSide.unregister(p2);
      await until(() => seen.sees([]), 'the empty list');
    });

    it('lists two providers of one service registered by two instances', async () => {
      const a = await registry();
      const b = await registry();
      const c = await registry();
      const [p1, p2] = [provider(1), provider(2)];
      await a.register(p1);
      await b.register(p2);
      const seen = recorder();
      await c.subscribe(consumer(), seen.listener);
      await until(() => seen.sees([p1, p2]), 'both providers');
    });

    it('lists only providers of the subscribed interface', async () => {
      const providerSide = await registry();
      const consumerSide = await registry();
      const mine = provider(1);
      const theirs = provider(2, other);
      await providerSide.register(theirs);
      await providerSide.register(mine);
      const seen = recorder();
      const otherSeen = recorder();
      await consumerSide.subscribe(consumer(), seen.listener);
      await consumerSide.subscribe(consumer(other), otherSeen.listener);
      await until(() => seen.sees([mine]), 'the subscribed interface alone');
      await until(() => otherSeen.sees([theirs]), 'the other interface alone');
      const later = provider(3, other);
      await providerSide.register(later);
      await until(() => otherSeen.sees([theirs, later]), 'the other interface with its second provider');
      for (const list of seen.lists) for (const url of list) expect(url.path).toBe(iface);
      expect(seen.sees([mine])).toBe(true);
    });

    it('carries version and group in the URL parameters and does not filter on them', async () => {
      const providerSide = await registry();
      const consumerSide = await registry();
      const v1 = provider(1, iface, { version: '1.0.0', group: 'blue' });
      const v2 = provider(2, iface, { version: '2.0.0', group: 'green' });
      const plain = provider(3);
      for (const p of [v1, v2, plain]) await providerSide.register(p);
      const seen = recorder();
      await consumerSide.subscribe(consumer(iface, { version: '1.0.0', group: 'blue' }), seen.listener);
      await until(() => seen.sees([v1, v2, plain]), 'every version and group of the interface');
      const byHost = new Map(seen.lists[seen.lists.length - 1].map((u) => [u.host, u]));
      expect(byHost.get(host(1))?.params).toMatchObject({ version: '1.0.0', group: 'blue' });
      expect(byHost.get(host(2))?.params).toMatchObject({ version: '2.0.0', group: 'green' });
      expect(byHost.get(host(3))?.params.version).toBeUndefined();
      expect(byHost.get(host(1))?.serviceKey).toBe(`blue/${iface}:1.0.0`);
    });

    it('unsubscribe: that listener hears nothing more, others keep hearing', async () => {
      const providerSide = await registry();
      const consumerSide = await registry();
      const p1 = provider(1);
      await providerSide.register(p1);
      const gone = recorder();
      const stays = recorder();
      await consumerSide.subscribe(consumer(), gone.listener);
      await consumerSide.subscribe(consumer(), stays.listener);
      await until(() => gone.sees([p1]) && stays.sees([p1]), 'both listeners to see the provider');
      await consumerSide.unsubscribe(consumer(), gone.listener);
      const heard = gone.count;
      const p2 = provider(2);
      await providerSide.register(p2);
      // The remaining listener doubles as the barrier: once it heard the change, the other would have too.
      await until(() => stays.sees([p1, p2]), 'the remaining listener to see the new provider');
      await providerSide.unregister(p1);
      await until(() => stays.sees([p2]), 'the remaining listener to see the removal');
      expect(gone.count).toBe(heard);
    });

    it('close(): what the closed instance registered disappears for other instances, its listeners stop', async () => {
      const closing = await registry();
      const staying = await registry();
      const watcher = await registry();
      const [p1, p2] = [provider(1), provider(2)];
      await closing.register(p1);
      await staying.register(p2);
      const own = recorder();
      await closing.subscribe(consumer(), own.listener);
      const seen = recorder();
      await watcher.subscribe(consumer(), seen.listener);
      await until(() => seen.sees([p1, p2]) && own.sees([p1, p2]), 'both providers');
      await closing.close();
      await until(() => seen.sees([p2]), 'the list without the closed instance\'s provider');
      const heard = own.count;
      const p3 = provider(3);
      await staying.register(p3);
      await until(() => seen.sees([p2, p3]), 'the list with a provider registered after the close');
      expect(own.count).toBe(heard);
    });

    it('notifies full lists, in the order the changes happened, never deltas', async () => {
      const providerSide = await registry();
      const consumerSide = await registry();
      const [p1, p2, p3] = [provider(1), provider(2), provider(3)];
      await providerSide.register(p1);
      const seen = recorder();
      await consumerSide.subscribe(consumer(), seen.listener);
      await until(() => seen.sees([p1]), 'the first provider');
      const states = [[p1], [p1, p2], [p1, p2, p3], [p2, p3], [p3]].map((s) => keys(s, key));
      await providerSide.register(p2);
      await until(() => seen.sees([p1, p2]), 'the first two providers');
      await providerSide.register(p3);
      await until(() => seen.sees([p1, p2, p3]), 'three providers');
      await providerSide.unregister(p1);
      await until(() => seen.sees([p2, p3]), 'the last two providers');
      await providerSide.unregister(p2);
      await until(() => seen.sees([p3]), 'the last provider');
      // Each notification is one of the states above (no partial list), and they never go back in time.
      let at = 0;
      for (const list of seen.lists) {
        const index = states.findIndex((s, i) => i >= at && same(s, keys(list, key)));
        expect(index).toBeGreaterThanOrEqual(at);
        at = index;
      }
    });

    it('register is idempotent: a URL registered twice is listed once and gone after one unregister', async () => {
      const providerSide = await registry();
      const consumerSide = await registry();
      const p1 = provider(1);
      const p2 = provider(2);
      await providerSide.register(p1);
      await providerSide.register(p1);
      await providerSide.register(URL.parse(p1.toString()));
      await providerSide.register(p2);
      const seen = recorder();
      await consumerSide.subscribe(consumer(), seen.listener);
      await until(() => seen.sees([p1, p2]), 'both providers, each once');
      await providerSide.unregister(p1);
      await until(() => seen.sees([p2]), 'the list without the provider registered twice');
      for (const list of seen.lists) expect(new Set(keys(list, key)).size).toBe(list.length);
    });

    it('unregister and unsubscribe of unknown things resolve and change nothing', async () => {
      const r = await registry();
      const p1 = provider(1);
      await r.register(p1);
      await expect(r.unregister(provider(9))).resolves.toBeUndefined();
      await expect(r.unsubscribe(consumer(), () => undefined)).resolves.toBeUndefined();
      const seen = recorder();
      await r.subscribe(consumer(), seen.listener);
      await until(() => seen.sees([p1]), 'the registered provider');
    });
  });
}

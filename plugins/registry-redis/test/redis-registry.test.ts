import type Redis from 'ioredis';
import { PlexusError, URL, type NotifyListener, type RegistryState } from '@plexus/kernel/spi';
import { MemoryLogger, fakeExtensionContext, rejectionOf, waitFor } from '@plexus/kernel/testing';
import plugin, { RedisRegistry } from '../src/index';
import { PORTS, rawClient, startRedis, type TestRedis } from './support/server';

/**
 * What the Redis scheme adds to the shared contract, against a real redis-server: leases on the
 * server clock, persistent rules, cleanup of dead entries, hostile hash contents, the limits, the
 * options and their effects, state reports.
 */
let server: TestRedis | undefined;
let raw: Redis;
const open: RedisRegistry[] = [];
let serial = 0;
let iface = '';

beforeAll(async () => {
  server = await startRedis(PORTS.behaviour);
  raw = rawClient(PORTS.behaviour);
});

afterAll(async () => {
  raw?.disconnect();
  await server?.dispose();
});

beforeEach(() => {
  iface = `plexus.redis.Svc${process.pid}x${Date.now().toString(36)}x${++serial}`;
});

afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

function registry(options: Record<string, unknown> = {}, logger = new MemoryLogger()): RedisRegistry {
  if (!server) throw new Error('redis-server did not start (see beforeAll)');
  const r = new RedisRegistry({ address: server.address, requestTimeout: 2000, ...options }, logger);
  open.push(r);
  return r;
}

const provider = (n: number, path = iface, params: Record<string, string> = {}) =>
  new URL('plexus', `10.2.0.${n}`, 20880, path, { side: 'provider', application: `app${n}`, ...params });
const consumer = (params: Record<string, string> = {}) => new URL('consumer', '10.2.0.200', 0, iface, { side: 'consumer', ...params });
const key = (category = 'providers', root = 'plexus') => `/${root}/${encodeURIComponent(iface)}/${category}`;

/** A listener keeping every list as sorted URL strings. */
function recorder(): { lists: string[][]; listener: NotifyListener; latest(): string | undefined } {
  const lists: string[][] = [];
  return {
    lists,
    listener: (urls) => lists.push(urls.map(String).sort()),
    latest: () => lists[lists.length - 1]?.join(' '),
  };
}

async function serverNow(): Promise<number> {
  const [s, us] = await raw.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

const warnings = (logger: MemoryLogger, text: string) => logger.entries.filter((e) => e.level === 'warn' && e.message.includes(text));

describe('layout and leases', () => {
  it('writes one hash per interface and category; the field is the URL, the value the server-clock expiry', async () => {
    const r = registry({ expirePeriod: 7000 });
    const p = provider(1);
    const before = await serverNow();
    await r.register(p);
    const after = await serverNow();
    const value = Number(await raw.hget(key(), p.toString()));
    expect(value).toBeGreaterThanOrEqual(before + 7000);
    expect(value).toBeLessThanOrEqual(after + 7000);
    const c = consumer();
    await r.register(c);
    expect(await raw.hkeys(key('consumers'))).toEqual([c.toString()]);
  });

  it('routers and configurators never expire (value 0) and stay after close()', async () => {
    const r = registry({ expirePeriod: 1000 });
    const rule = new URL('condition', '0.0.0.0', 0, iface, { category: 'routers', rule: 'host = 10.2.0.1 => host != 10.2.0.9' });
    const override = new URL('override', '0.0.0.0', 0, iface, { category: 'configurators', weight: '50' });
    await r.register(rule);
    await r.register(override);
    expect(await raw.hget(key('routers'), rule.toString())).toBe('0');
    expect(await raw.hget(key('configurators'), override.toString())).toBe('0');
    await r.close();
    // Well past the lease and several cleanup beats of a watcher: the rules are still listed.
    const watcher = registry({ expirePeriod: 1000 });
    const seen = recorder();
    await watcher.subscribe(consumer({ category: 'routers,configurators' }), seen.listener);
    await new Promise((res) => setTimeout(res, 1500));
    expect(seen.latest()).toBe([override.toString(), rule.toString()].sort().join(' '));
    expect(await raw.hget(key('routers'), rule.toString())).toBe('0');
  });

  it('renews leases every expirePeriod/3, so a live provider outlasts its lease', async () => {
    const r = registry({ expirePeriod: 1200 });
    const p = provider(1);
    await r.register(p);
    const first = Number(await raw.hget(key(), p.toString()));
    const watcher = registry({ expirePeriod: 1200 });
    const seen = recorder();
    await watcher.subscribe(consumer(), seen.listener);
    await new Promise((res) => setTimeout(res, 2500));
    const later = Number(await raw.hget(key(), p.toString()));
    expect(later).toBeGreaterThan(first);
    expect(seen.latest()).toBe(p.toString());
    // Renewals of a live entry publish nothing: the subscriber heard the one list only.
    expect(seen.lists).toHaveLength(1);
  });

  it('an entry whose lease passed disappears for subscribers: removed on the server, "unregister" published', async () => {
    const watcher = registry({ expirePeriod: 1000 });
    const other = registry({ expirePeriod: 1000 });
    const alive = provider(2);
    await other.register(alive);
    // A provider that died without unregistering: its entry, with a lease about to pass.
    const dead = provider(1);
    await raw.hset(key(), dead.toString(), String((await serverNow()) + 300));
    const seen = recorder();
    const otherSeen = recorder();
    await watcher.subscribe(consumer(), seen.listener);
    await other.subscribe(consumer(), otherSeen.listener);
    await waitFor(() => seen.latest() === [alive, dead].map(String).sort().join(' '), 5000, 'both providers');
    await waitFor(() => seen.latest() === alive.toString() && otherSeen.latest() === alive.toString(), 5000, 'the dead provider gone for both');
    expect(await raw.hexists(key(), dead.toString())).toBe(0);
  });
});

describe('subscriptions', () => {
  it('subscribe again with the same URL and listener re-delivers the list and does not double later notices', async () => {
    const r = registry();
    const seen = recorder();
    await r.register(provider(1));
    await r.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.lists.length === 1, 5000, 'the first list');
    await r.subscribe(URL.parse(consumer().toString()), seen.listener);
    await waitFor(() => seen.lists.length === 2, 5000, 'the list again');
    expect(seen.lists[1]).toEqual(seen.lists[0]);
    await r.register(provider(2));
    await waitFor(() => seen.lists.length === 3, 5000, 'the list with the second provider');
    await new Promise((res) => setTimeout(res, 200));
    expect(seen.lists).toHaveLength(3);
  });

  it('delivers asynchronously, never inside subscribe()', async () => {
    const r = registry();
    let calls = 0;
    const pending = r.subscribe(consumer(), () => calls++);
    await pending;
    expect(calls).toBe(0);
    await waitFor(() => calls === 1, 5000, 'the first list');
  });

  it('a burst of messages costs a few reads, not one per message', async () => {
    const r = registry();
    const seen = recorder();
    await r.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.lists.length === 1, 5000, 'the first list');
    const reads = jest.spyOn(r as unknown as { read: (...a: unknown[]) => Promise<URL[]> }, 'read');
    const pipe = raw.pipeline();
    for (let i = 0; i < 1000; i++) pipe.publish(key(), 'register');
    await pipe.exec();
    await r.register(provider(1));
    await waitFor(() => seen.latest() === provider(1).toString(), 5000, 'the provider');
    expect(reads.mock.calls.length).toBeGreaterThan(0);
    expect(reads.mock.calls.length).toBeLessThan(100);
    // Messages that change nothing notify nothing.
    expect(seen.lists).toHaveLength(2);
  });

  it('SUBSCRIBEs a hash\'s channel once for all its subscriptions and UNSUBSCRIBEs when the last one goes', async () => {
    const r = registry();
    const a = recorder();
    const b = recorder();
    const numsub = async () => Number(((await raw.pubsub('NUMSUB', key())) as [string, number])[1]);
    await r.subscribe(consumer(), a.listener);
    await r.subscribe(consumer({ application: 'other' }), b.listener);
    expect(await numsub()).toBe(1);
    await r.unsubscribe(consumer(), a.listener);
    expect(await numsub()).toBe(1);
    await r.unsubscribe(consumer({ application: 'other' }), b.listener);
    for (let i = 0; i < 100 && (await numsub()) !== 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(await numsub()).toBe(0);
  });

  it('a listener that throws is logged and the others keep hearing', async () => {
    const logger = new MemoryLogger();
    const r = registry({}, logger);
    const seen = recorder();
    await r.subscribe(consumer(), () => {
      throw new Error('listener bug');
    });
    await r.subscribe(consumer(), seen.listener);
    await r.register(provider(1));
    await waitFor(() => seen.latest() === provider(1).toString(), 5000, 'the provider');
    expect(logger.entries.some((e) => e.level === 'error' && e.message.includes('listener bug'))).toBe(true);
  });
});

describe('hostile hash contents', () => {
  it('skips entries that are not URLs of the interface, or carry no expiry, with one warning each', async () => {
    const logger = new MemoryLogger();
    const r = registry({ expirePeriod: 1000 }, logger);
    const good = provider(1);
    await r.register(good);
    const far = String((await serverNow()) + 600_000);
    await raw.hset(key(), 'not a url %%%', far, provider(2, 'some.OtherService').toString(), far, provider(3).toString(), 'soon');
    const seen = recorder();
    await r.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.lists.length > 0, 5000, 'the first list');
    expect(seen.latest()).toBe(good.toString());
    // Several re-reads (messages and cleanup beats) later, still one warning per bad entry.
    await raw.publish(key(), 'register');
    await new Promise((res) => setTimeout(res, 1200));
    expect(warnings(logger, 'not a url %%%')).toHaveLength(1);
    expect(warnings(logger, 'some.OtherService')).toHaveLength(1);
    expect(warnings(logger, 'not an expiry time')).toHaveLength(1);
    expect(seen.latest()).toBe(good.toString());
  });

  it('filters out fields longer than maxEntryBytes on the server; only a prefix and the size reach the warning', async () => {
    const logger = new MemoryLogger();
    const r = registry({ maxEntryBytes: 1024 }, logger);
    const huge = `${provider(9).toString()}&pad=${'x'.repeat(4 * 1024 * 1024)}`;
    await raw.hset(key(), huge, '0');
    await r.register(provider(1));
    const seen = recorder();
    await r.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.lists.length > 0, 5000, 'the first list');
    expect(seen.latest()).toBe(provider(1).toString());
    const [warning] = warnings(logger, 'more than maxEntryBytes');
    expect(warning.message).toContain(String(Buffer.byteLength(huge) + 1));
    expect(warning.message.length).toBeLessThan(600);
  });

  it('reads at most maxEntries entries of a hash, with one warning', async () => {
    const logger = new MemoryLogger();
    const r = registry({ maxEntries: 10 }, logger);
    const args: string[] = [];
    for (let i = 1; i <= 40; i++) args.push(provider(i).toString(), '0');
    await raw.hset(key(), ...args);
    const seen = recorder();
    await r.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.lists.length > 0, 5000, 'the first list');
    expect(seen.lists[0]).toHaveLength(10);
    expect(warnings(logger, 'holds 40 entries, more than maxEntries (10)')).toHaveLength(1);
    expect(await r.lookup(consumer())).toHaveLength(10);
  });

  it('a key of another type where a hash belongs: subscribe and register fail with COMMAND (WRONGTYPE)', async () => {
    await raw.set(key(), 'not a hash');
    const r = registry();
    const sub = await rejectionOf(r.subscribe(consumer(), () => undefined));
    expect(PlexusError.is(sub, 'PLEXUS_ERR_REDIS_COMMAND')).toBe(true);
    expect((sub as Error).message).toContain('WRONGTYPE');
    expect(PlexusError.is(await rejectionOf(r.register(provider(1))), 'PLEXUS_ERR_REDIS_COMMAND')).toBe(true);
    // Nothing half-done is left: a later subscribe, once the key is fixed, works.
    await raw.del(key());
    const seen = recorder();
    await r.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.lists.length === 1, 5000, 'the first list');
    expect(seen.lists[0]).toEqual([]);
  });

  it('a hash of 20 000 fields: the default maxEntries (5000) bounds the read', async () => {
    const logger = new MemoryLogger();
    const r = registry({}, logger);
    const pipe = raw.pipeline();
    for (let i = 0; i < 20_000; i += 500) {
      const args: string[] = [];
      for (let j = i; j < i + 500; j++) args.push(provider(1, iface, { n: String(j) }).toString(), '0');
      pipe.hset(key(), ...args);
    }
    await pipe.exec();
    const urls = await r.lookup(consumer());
    expect(urls).toHaveLength(5000);
    expect(warnings(logger, 'holds 20000 entries, more than maxEntries (5000)')).toHaveLength(1);
  });

  it('register refuses a URL longer than maxEntryBytes with ENTRY_TOO_LARGE', async () => {
    const r = registry({ maxEntryBytes: 256 });
    const long = provider(1, iface, { methods: 'm'.repeat(300) });
    const err = await rejectionOf(r.register(long));
    expect(PlexusError.is(err, 'PLEXUS_ERR_REDIS_ENTRY_TOO_LARGE')).toBe(true);
    expect(await raw.exists(key())).toBe(0);
  });
});

describe('services() and lookup()', () => {
  it('services() lists interfaces with a live entry; lookup() reads the subscribed categories once', async () => {
    const r = registry({ root: `root${serial}` });
    const p = provider(1);
    const rule = new URL('condition', '0.0.0.0', 0, iface, { category: 'routers', rule: 'x' });
    await r.register(p);
    await r.register(rule);
    const deadIface = `${iface}.Dead`;
    await raw.hset(`/root${serial}/${encodeURIComponent(deadIface)}/providers`, provider(2, deadIface).toString(), '1');
    await raw.hset(`/root${serial}/not-a-category-key`, 'x', '0');
    expect(await r.services()).toEqual([iface]);
    expect((await r.lookup(consumer())).map(String)).toEqual([p.toString()]);
    expect((await r.lookup(consumer({ category: 'routers,providers' }))).map(String)).toEqual([rule.toString(), p.toString()]);
    // Another root sees nothing of it.
    expect(await registry().lookup(consumer())).toEqual([]);
  });
});

describe('options', () => {
  it('root: keys live under /{root}/', async () => {
    const r = registry({ root: 'elsewhere' });
    await r.register(provider(1));
    expect(await raw.hkeys(key('providers', 'elsewhere'))).toEqual([provider(1).toString()]);
    expect(await raw.exists(key())).toBe(0);
  });

  it('db: entries go to that database and registries on other databases do not see them', async () => {
    const r = registry({ db: 3 });
    await r.register(provider(1));
    const db3 = rawClient(PORTS.behaviour, { db: 3 });
    try {
      expect(await db3.hkeys(key())).toEqual([provider(1).toString()]);
    } finally {
      db3.disconnect();
    }
    expect(await raw.exists(key())).toBe(0);
    expect(await registry().lookup(consumer())).toEqual([]);
    expect((await registry({ db: 3 }).lookup(consumer())).map(String)).toEqual([provider(1).toString()]);
  });

  it('requestTimeout bounds a register when nothing listens: UNREACHABLE', async () => {
    const r = registry({ address: `127.0.0.1:${PORTS.nothing}`, requestTimeout: 300 });
    const started = Date.now();
    const err = await rejectionOf(r.register(provider(1)));
    expect(PlexusError.is(err, 'PLEXUS_ERR_REDIS_UNREACHABLE')).toBe(true);
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('requestTimeout bounds a command to a server that stopped answering: TIMEOUT', async () => {
    const r = registry({ requestTimeout: 300 });
    await r.register(provider(1));
    process.kill(server!.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const err = await rejectionOf(r.register(provider(2)));
      expect(PlexusError.is(err, 'PLEXUS_ERR_REDIS_TIMEOUT')).toBe(true);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      process.kill(server!.pid, 'SIGCONT');
    }
  });

  it('rejects bad options with BAD_OPTIONS naming the option', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{}, '`address` is required'],
      [{ address: '127.0.0.1:6379,127.0.0.2:6379' }, 'several servers'],
      [{ address: 'host:99999' }, 'host:port'],
      [{ address: '127.0.0.1:6379', expirePeriod: 10 }, '`expirePeriod`'],
      [{ address: '127.0.0.1:6379', maxEntries: 0 }, '`maxEntries`'],
      [{ address: '127.0.0.1:6379', root: '/' }, '`root`'],
    ];
    for (const [options, text] of bad) {
      let err: unknown;
      try {
        new RedisRegistry(options);
      } catch (e) {
        err = e;
      }
      expect(PlexusError.is(err, 'PLEXUS_ERR_REDIS_BAD_OPTIONS')).toBe(true);
      expect((err as Error).message).toContain(text);
    }
  });

  it('defaults: port 6379, root plexus, a 15 s lease, 3 s requests', () => {
    const r = new RedisRegistry({ address: 'redis.internal' });
    open.push(r);
    expect(r.options).toMatchObject({ host: 'redis.internal', port: 6379, root: 'plexus', db: 0, expirePeriod: 15000, requestTimeout: 3000, maxEntries: 5000, maxEntryBytes: 8192 });
    const v6 = new RedisRegistry({ address: '[::1]:7000', password: 1234 });
    open.push(v6);
    expect(v6.options).toMatchObject({ host: '::1', port: 7000, password: '1234' });
  });

  it('the plugin declares registry "redis" and builds a RedisRegistry from ctx.options', async () => {
    const ext = plugin.extensions.find((e) => e.point === 'registry' && e.name === 'redis');
    expect(ext?.optionsSchema).toMatchObject({ required: ['address'] });
    const r = ext!.create(fakeExtensionContext({ type: 'redis', address: server!.address, expirePeriod: 2000 })) as RedisRegistry;
    open.push(r);
    expect(r).toBeInstanceOf(RedisRegistry);
    expect(r.options.expirePeriod).toBe(2000);
    await r.register(provider(1));
    expect(await raw.hexists(key(), provider(1).toString())).toBe(1);
  });
});

describe('state', () => {
  it('reports connected once both connections are ready; refuses work after close()', async () => {
    const r = registry();
    const states: RegistryState[] = [];
    r.onStateChange((s) => states.push(s));
    await waitFor(() => states.length > 0, 5000, 'the first state');
    expect(states).toEqual(['connected']);
    await r.close();
    expect(PlexusError.is(await rejectionOf(r.register(provider(1))), 'PLEXUS_ERR_REDIS_CLOSED')).toBe(true);
    expect(PlexusError.is(await rejectionOf(r.subscribe(consumer(), () => undefined)), 'PLEXUS_ERR_REDIS_CLOSED')).toBe(true);
    await expect(r.unregister(provider(1))).resolves.toBeUndefined();
  });
});

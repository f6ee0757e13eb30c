import * as net from 'node:net';
import Ajv from 'ajv';
import { Etcd3 } from 'etcd3';
import { Plexus } from '@plexus/kernel';
import { PlexusError, URL, type ExtensionContext, type RegistryState } from '@plexus/kernel/spi';
import { rejectionOf, waitFor } from '@plexus/kernel/testing';
import plugin, { EtcdRegistry, etcdOptionsSchema } from '../src/index';
import { resolveEtcdOptions } from '../src/etcd-options';
import { RecordingLogger, removeDir, startEtcd, type EtcdServer } from './support/etcd';

/** Behaviour beyond the contract, against a real etcd on 127.0.0.1:23792. */
const PORT = 23792;
/** Nothing listens here during this file (a port of this package's range left unused). */
const CLOSED_PORT = 23794;
/** A TCP server that accepts and never answers runs here during one test. */
const SILENT_PORT = 23793;
const WAIT = 10_000;

let server: EtcdServer | undefined;
let raw: Etcd3 | undefined;
const open: EtcdRegistry[] = [];
let serial = 0;

beforeAll(async () => {
  server = await startEtcd(PORT);
  raw = new Etcd3({ hosts: `http://${server.address}` });
}, 30_000);

afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => undefined);
});

afterAll(async () => {
  raw?.close();
  await server?.stop();
  removeDir(server?.dir);
});

function etcd(): Etcd3 {
  if (raw === undefined) throw new Error('etcd did not start (see beforeAll)');
  return raw;
}

function iface(): string {
  serial++;
  return `plexus.unit.Greeter${process.pid}x${serial}`;
}

function registry(options: Record<string, unknown> = {}, logger = new RecordingLogger()): EtcdRegistry {
  const r = new EtcdRegistry({ address: server?.address, ttl: 2000, ...options }, logger);
  open.push(r);
  return r;
}

function provider(path: string, n: number, params: Record<string, string> = {}): URL {
  return new URL('plexus', `10.2.0.${n}`, 20880, path, { side: 'provider', ...params });
}

function consumer(path: string, params: Record<string, string> = {}): URL {
  return new URL('consumer', '10.2.0.200', 0, path, { side: 'consumer', ...params });
}

function recorder() {
  const lists: URL[][] = [];
  return {
    lists,
    listener: (urls: URL[]) => lists.push(urls),
    hosts: () => (lists.length ? lists[lists.length - 1].map((u) => u.host).sort() : undefined),
  };
}

function key(path: string, category: string, url: URL, root = 'plexus'): string {
  return `/${root}/${encodeURIComponent(path)}/${category}/${encodeURIComponent(url.toString())}`;
}

describe('layout and lifetimes', () => {
  it('writes Dubbo-layout keys: providers and consumers on a lease, routers and configurators without', async () => {
    const name = iface();
    const r = registry();
    const p = provider(name, 1);
    const c = consumer(name);
    const rule = new URL('condition', '0.0.0.0', 0, name, { category: 'routers', rule: 'host = 10.2.0.1' });
    const override = new URL('override', '0.0.0.0', 0, name, { category: 'configurators', weight: '50' });
    for (const u of [p, c, rule, override]) await r.register(u);
    const res = await etcd().getAll().prefix(`/plexus/${encodeURIComponent(name)}/`).exec();
    const byKey = new Map(res.kvs.map((kv) => [kv.key.toString(), kv]));
    expect([...byKey.keys()].sort()).toEqual(
      [key(name, 'providers', p), key(name, 'consumers', c), key(name, 'routers', rule), key(name, 'configurators', override)].sort(),
    );
    expect(byKey.get(key(name, 'providers', p))?.value.toString()).toBe(p.toString());
    const lease = byKey.get(key(name, 'providers', p))?.lease;
    expect(lease).not.toBe('0');
    expect(byKey.get(key(name, 'consumers', c))?.lease).toBe(lease);
    expect(byKey.get(key(name, 'routers', rule))?.lease).toBe('0');
    expect(byKey.get(key(name, 'configurators', override))?.lease).toBe('0');
  });

  it('close() revokes the lease: provider and consumer keys go, rules written by the instance stay', async () => {
    const name = iface();
    const r = registry();
    const rule = new URL('condition', '0.0.0.0', 0, name, { category: 'routers', rule: 'x' });
    await r.register(provider(name, 1));
    await r.register(consumer(name));
    await r.register(rule);
    await r.close();
    const keys = await etcd().getAll().prefix(`/plexus/${encodeURIComponent(name)}/`).keys();
    expect(keys).toEqual([key(name, 'routers', rule)]);
    await expect(rejectionOf(r.register(provider(name, 2)))).resolves.toMatchObject({ code: 'PLEXUS_ERR_ETCD_CLOSED' });
    await expect(rejectionOf(r.subscribe(consumer(name), () => undefined))).resolves.toMatchObject({ code: 'PLEXUS_ERR_ETCD_CLOSED' });
  });

  it('a register still waiting for its lease when the registry closes rejects with PLEXUS_ERR_ETCD_CLOSED', async () => {
    const name = iface();
    const r = registry();
    const pending = rejectionOf(r.register(provider(name, 1)));
    await r.close();
    await expect(pending).resolves.toMatchObject({ code: 'PLEXUS_ERR_ETCD_CLOSED' });
    expect(await etcd().getAll().prefix(`/plexus/${encodeURIComponent(name)}/`).keys()).toEqual([]);
  });

  it('root: entries live under the configured first segment, apart from other roots', async () => {
    const name = iface();
    const custom = registry({ root: 'team-a' });
    const plain = registry();
    const p = provider(name, 1);
    await custom.register(p);
    expect(await etcd().getAll().prefix(`/team-a/${encodeURIComponent(name)}/`).keys()).toEqual([key(name, 'providers', p, 'team-a')]);
    expect(await plain.lookup(consumer(name))).toEqual([]);
    expect((await custom.lookup(consumer(name))).map(String)).toEqual([p.toString()]);
  });

  it('ttl: the lease is granted with the TTL in whole seconds, rounded up', async () => {
    const name = iface();
    for (const [ttl, seconds] of [
      [3500, 4],
      [10_000, 10],
    ]) {
      const r = registry({ ttl });
      const p = provider(name, seconds);
      await r.register(p);
      const [kv] = (await etcd().getAll().prefix(key(name, 'providers', p)).exec()).kvs;
      const info = await etcd().leaseClient.leaseTimeToLive({ ID: kv.lease });
      expect(info.grantedTTL).toBe(String(seconds));
    }
    // Without the option: 10 s.
    const r = new EtcdRegistry({ address: server?.address });
    open.push(r);
    const p = provider(name, 99);
    await r.register(p);
    const [kv] = (await etcd().getAll().prefix(key(name, 'providers', p)).exec()).kvs;
    expect((await etcd().leaseClient.leaseTimeToLive({ ID: kv.lease })).grantedTTL).toBe('10');
  });
});

describe('subscriptions', () => {
  it('a subscription of several categories gets their entries together', async () => {
    const name = iface();
    const r = registry();
    const p = provider(name, 1);
    const rule = new URL('condition', '0.0.0.0', 0, name, { category: 'routers', rule: 'x' });
    await r.register(p);
    const seen = recorder();
    await r.subscribe(consumer(name, { category: 'providers,routers' }), seen.listener);
    await waitFor(() => seen.lists.length > 0, WAIT, 'the first list');
    expect(seen.lists[seen.lists.length - 1].map(String).sort()).toEqual([p.toString()]);
    await r.register(rule);
    await waitFor(() => seen.lists[seen.lists.length - 1]?.length === 2, WAIT, 'the rule to join the list');
    expect(seen.lists[seen.lists.length - 1].map(String).sort()).toEqual([p.toString(), rule.toString()].sort());
    expect((await r.lookup(consumer(name, { category: 'routers' }))).map(String)).toEqual([rule.toString()]);
  });

  it('subscribing the same (url, listener) again re-delivers the current list and adds no second delivery', async () => {
    const name = iface();
    const r = registry();
    const seen = recorder();
    await r.subscribe(consumer(name), seen.listener);
    await waitFor(() => seen.lists.length === 1, WAIT, 'the first list');
    await r.subscribe(consumer(name), seen.listener);
    await waitFor(() => seen.lists.length === 2, WAIT, 'the re-delivered list');
    await r.register(provider(name, 1));
    await waitFor(() => seen.hosts()?.join() === '10.2.0.1', WAIT, 'the new provider');
    await new Promise((res) => setTimeout(res, 200));
    expect(seen.lists).toHaveLength(3);
  });

  it('entries written by someone else that do not decode are skipped with one warning each', async () => {
    const name = iface();
    const logger = new RecordingLogger();
    const r = registry({ maxKeyBytes: 600 }, logger);
    const prefix = `/plexus/${encodeURIComponent(name)}/providers/`;
    const good = provider(name, 1);
    await etcd().put(`${prefix}not%20a%20url%ZZ`).value('x');
    await etcd().put(`${prefix}deeper/${encodeURIComponent(good.toString())}`).value('x');
    await etcd().put(`${prefix}${encodeURIComponent(provider('some.Other', 2).toString())}`).value('x');
    await etcd().put(`${prefix}${encodeURIComponent(provider(name, 3, { pad: 'x'.repeat(700) }).toString())}`).value('x');
    // A huge value on a good key costs nothing: values are never read.
    await etcd().put(key(name, 'providers', good)).value(Buffer.alloc(512 * 1024, 1));
    const seen = recorder();
    await r.subscribe(consumer(name), seen.listener);
    await waitFor(() => seen.hosts()?.join() === '10.2.0.1', WAIT, 'the one good entry');
    expect(logger.warnings('skipped')).toHaveLength(4);
    expect(logger.warnings('maxKeyBytes 600')).toHaveLength(1);
    // More changes, and garbage arriving through the watch: still one warning per entry.
    await etcd().put(`${prefix}garbage-after`).value('x');
    await r.register(provider(name, 4));
    await waitFor(() => seen.hosts()?.join() === '10.2.0.1,10.2.0.4', WAIT, 'the second good entry');
    expect(logger.warnings('skipped')).toHaveLength(5);
    for (const line of logger.lines.filter((l) => l.level === 'warn')) expect(String(line.fields?.entry).length).toBeLessThanOrEqual(201);
    expect((await r.lookup(consumer(name))).map((u) => u.host).sort()).toEqual(['10.2.0.1', '10.2.0.4']);
  });

  it('lists in pages: more entries than one page, and pages of huge keys over the gRPC message limit', async () => {
    const name = iface();
    const prefix = `/plexus/${encodeURIComponent(name)}/providers/`;
    const writer = registry();
    for (let n = 0; n < 300; n++) await writer.register(new URL('plexus', `10.3.${n >> 8}.${n & 255}`, 20880, name, { side: 'provider' }));
    // 20 keys of 300 KiB: 6 MiB in one response, over gRPC's 4 MiB; the page shrinks until it fits.
    for (let n = 0; n < 20; n++) await etcd().put(`${prefix}huge${n}-${'h'.repeat(300 * 1024)}`).value('');
    const logger = new RecordingLogger();
    const r = registry({}, logger);
    const seen = recorder();
    await r.subscribe(consumer(name), seen.listener);
    await waitFor(() => seen.lists.length > 0, WAIT, 'the first list');
    expect(seen.lists[seen.lists.length - 1]).toHaveLength(300);
    expect(logger.warnings('over maxKeyBytes')).toHaveLength(20);
    expect(await r.lookup(consumer(name))).toHaveLength(300);
  }, 30_000);

  it('maxEntries caps a category listing, with one warning', async () => {
    const name = iface();
    const writer = registry();
    for (let n = 1; n <= 5; n++) await writer.register(provider(name, n));
    const logger = new RecordingLogger();
    const r = registry({ maxEntries: 3 }, logger);
    const seen = recorder();
    await r.subscribe(consumer(name), seen.listener);
    await waitFor(() => seen.lists.length > 0, WAIT, 'the first list');
    expect(seen.lists[seen.lists.length - 1]).toHaveLength(3);
    expect(logger.warnings('maxEntries 3')).toHaveLength(1);
    expect(await r.lookup(consumer(name))).toHaveLength(3);
    // Room frees up when entries go: the watch fills it again from the changes it sees.
    await writer.unregister(provider(name, 1));
    await writer.register(provider(name, 6));
    await waitFor(() => seen.hosts()?.includes('10.2.0.6') === true, WAIT, 'a newcomer once there is room');
    expect(seen.lists[seen.lists.length - 1]).toHaveLength(3);
  });

  it('a listener that throws is logged and does not silence the others', async () => {
    const name = iface();
    const logger = new RecordingLogger();
    const r = registry({}, logger);
    const seen = recorder();
    await r.subscribe(consumer(name), () => {
      throw new Error('listener bug');
    });
    await r.subscribe(consumer(name), seen.listener);
    await r.register(provider(name, 1));
    await waitFor(() => seen.hosts()?.join() === '10.2.0.1', WAIT, 'the provider');
    expect(logger.lines.some((l) => l.level === 'error' && l.message.includes('listener bug'))).toBe(true);
  });

  it('services() lists the interfaces with entries under the root, skipping stray keys', async () => {
    const root = `svc${process.pid}x${Date.now()}`;
    const r = registry({ root });
    const [a, b] = [iface(), iface()];
    await r.register(provider(a, 1));
    await r.register(provider(a, 2));
    await r.register(consumer(b));
    await etcd().put(`/${root}/stray`).value('x');
    expect((await r.services()).sort()).toEqual([a, b].sort());
  });
});

describe('options and failures', () => {
  it('rejects bad options with coded errors and accepts string numbers from env or URL', () => {
    const code = (options: Record<string, unknown>) => {
      try {
        resolveEtcdOptions(options);
        return undefined;
      } catch (err) {
        return (err as PlexusError).code;
      }
    };
    expect(code({ ttl: 10 })).toBe('PLEXUS_ERR_ETCD_OPTION');
    expect(() => resolveEtcdOptions({ ttl: 10 })).toThrow(/milliseconds/);
    expect(code({ requestTimeout: 'soon' })).toBe('PLEXUS_ERR_ETCD_OPTION');
    expect(code({ maxEntries: 0 })).toBe('PLEXUS_ERR_ETCD_OPTION');
    expect(code({ root: '/' })).toBe('PLEXUS_ERR_ETCD_OPTION');
    expect(code({ address: 'https://127.0.0.1:2379' })).toBe('PLEXUS_ERR_ETCD_ADDRESS');
    expect(code({ address: 'nohost' })).toBe('PLEXUS_ERR_ETCD_ADDRESS');
    expect(code({ address: ' , ' })).toBe('PLEXUS_ERR_ETCD_ADDRESS');
    const resolved = resolveEtcdOptions({ address: '10.0.0.1:2379, http://etcd-2:2379/', ttl: '5000', requestTimeout: '250' });
    expect(resolved.hosts).toEqual(['http://10.0.0.1:2379', 'http://etcd-2:2379']);
    expect(resolved.ttlSeconds).toBe(5);
    expect(resolved.requestTimeout).toBe(250);
    expect(resolveEtcdOptions({})).toMatchObject({ hosts: ['http://127.0.0.1:2379'], root: 'plexus', ttlSeconds: 10, requestTimeout: 3000 });
  });

  it('refuses to register a URL whose key is over maxKeyBytes', async () => {
    const r = registry({ maxKeyBytes: 200 });
    const err = await rejectionOf(r.register(provider(iface(), 1, { methods: 'm'.repeat(300) })));
    expect(err).toMatchObject({ code: 'PLEXUS_ERR_ETCD_ENTRY_TOO_LARGE' });
  });

  it('an unreachable etcd: register and subscribe reject at once with UNREACHABLE, disconnected is reported', async () => {
    const r = new EtcdRegistry({ address: `127.0.0.1:${CLOSED_PORT}`, requestTimeout: 10_000 }, new RecordingLogger());
    open.push(r);
    const states: RegistryState[] = [];
    r.onStateChange((s) => states.push(s));
    const started = Date.now();
    const failed = await rejectionOf(r.register(provider(iface(), 1)));
    expect(PlexusError.is(failed, 'PLEXUS_ERR_ETCD_UNREACHABLE')).toBe(true);
    expect((failed as Error).message).toContain(`127.0.0.1:${CLOSED_PORT}`);
    expect(await rejectionOf(r.subscribe(consumer(iface()), () => undefined))).toMatchObject({ code: 'PLEXUS_ERR_ETCD_UNREACHABLE' });
    // Refused at once: far sooner than the 10 s requestTimeout.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(states).toEqual(['disconnected']);
  });

  it('address: a comma list of endpoints; a dead one is skipped for the next', async () => {
    const name = iface();
    // Without shuffling, etcd3 tries the endpoints from the last one back: the dead one first.
    const pool = require('etcd3/lib/connection-pool') as { ConnectionPool: { deterministicOrder: boolean } };
    pool.ConnectionPool.deterministicOrder = true;
    try {
      const r = new EtcdRegistry({ address: `http://${server?.address},127.0.0.1:${CLOSED_PORT}`, ttl: 2000 }, new RecordingLogger());
      open.push(r);
      for (let n = 1; n <= 3; n++) await r.register(provider(name, n));
      expect(await r.lookup(consumer(name))).toHaveLength(3);
    } finally {
      pool.ConnectionPool.deterministicOrder = false;
    }
  });

  it('requestTimeout bounds a request to a server that never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((res) => silent.listen(SILENT_PORT, '127.0.0.1', res));
    try {
      const r = new EtcdRegistry({ address: `127.0.0.1:${SILENT_PORT}`, requestTimeout: 400 }, new RecordingLogger());
      open.push(r);
      const started = Date.now();
      const err = await rejectionOf(r.register(provider(iface(), 1)));
      const took = Date.now() - started;
      expect(PlexusError.is(err, 'PLEXUS_ERR_ETCD_TIMEOUT')).toBe(true);
      expect((err as Error).message).toContain('within 400 ms');
      expect(took).toBeGreaterThanOrEqual(350);
      expect(took).toBeLessThan(3_000);
      const sub = await rejectionOf(r.subscribe(consumer(iface()), () => undefined));
      expect(PlexusError.is(sub, 'PLEXUS_ERR_ETCD_TIMEOUT')).toBe(true);
      await r.close();
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => silent.close(() => res()));
    }
  });
});

describe('plugin', () => {
  it('declares the etcd registry; its schema fills the documented defaults and coerces strings', () => {
    const [ext] = plugin.extensions;
    expect(ext).toMatchObject({ point: 'registry', name: 'etcd' });
    const validate = new Ajv({ useDefaults: true, coerceTypes: true }).compile(etcdOptionsSchema);
    const options: Record<string, unknown> = { type: 'etcd', address: '127.0.0.1:2379', ttl: '4000' };
    expect(validate(options)).toBe(true);
    expect(options).toMatchObject({ root: 'plexus', ttl: 4000, requestTimeout: 3000, maxKeyBytes: 8192, maxEntries: 10000 });
    expect(validate({ type: 'etcd', ttl: 1000 })).toBe(false);
    const logger = new RecordingLogger();
    const created = ext.create({ options: { address: `127.0.0.1:${CLOSED_PORT}` }, logger } as unknown as ExtensionContext);
    expect(created).toBeInstanceOf(EtcdRegistry);
    expect((created as EtcdRegistry).logger).toBe(logger);
    open.push(created as EtcdRegistry);
  });
});

describe('in an application', () => {
  it('a provider app and a consumer app find each other through etcd://; stop() removes the provider entry', async () => {
    const name = iface();
    const registryUrl = `etcd://${server?.address}?ttl=2000&requestTimeout=2000`;
    const providerApp = Plexus.create({
      application: { name: 'etcd-provider', handleSignals: false },
      registry: registryUrl,
      protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    });
    providerApp.provide({ interface: name }, { sayHello: (who: string) => `hello ${who}` });
    const consumerApp = Plexus.create({
      application: { name: 'etcd-consumer', handleSignals: false },
      registry: registryUrl,
      references: { greeter: { interface: name, timeout: 3000 } },
    });
    const providers = `/plexus/${encodeURIComponent(name)}/providers/`;
    try {
      await providerApp.start();
      const keys = await etcd().getAll().prefix(providers).keys();
      expect(keys).toHaveLength(1);
      expect(decodeURIComponent(keys[0].slice(providers.length))).toContain(`/${name}?`);
      await consumerApp.start();
      const greeter = consumerApp.reference<{ sayHello(who: string): Promise<string> }>('greeter');
      await expect(greeter.sayHello('ada')).resolves.toBe('hello ada');
      expect(await etcd().getAll().prefix(`/plexus/${encodeURIComponent(name)}/consumers/`).keys()).toHaveLength(1);
    } finally {
      await consumerApp.stop();
      await providerApp.stop();
    }
    expect(await etcd().getAll().prefix(`/plexus/${encodeURIComponent(name)}/`).keys()).toEqual([]);
  });
});

import * as net from 'node:net';
import * as zookeeper from 'node-zookeeper-client';
import { PlexusError, URL, registryLayout } from '@plexus/kernel/spi';
import { MemoryLogger, fakeExtensionContext } from '@plexus/kernel/testing';
import plugin, { ZOOKEEPER_DEFAULTS } from '../src/index';
import { resolveOptions } from '../src/options';
import { MAX_FRAME_BYTES, ZookeeperRegistry } from '../src/zookeeper-registry';
import { PORTS, removeDir, startZooKeeper, tempDir, type ZooKeeperServer } from './server';
import { RawClient, Recorder, consumer, provider, sessionIdOf, stateLog, uniqueInterface, until } from './support';

/** Behaviour beyond the shared contract, against a real ZooKeeper: layout, options, hostile entries. */
let server: ZooKeeperServer | undefined;
let dir: string | undefined;
let raw: RawClient | undefined;
let open: ZookeeperRegistry[] = [];

function address(): string {
  if (!server) throw new Error('ZooKeeper did not start (see beforeAll)');
  return server.address;
}

function inspect(): RawClient {
  if (!raw) throw new Error('no raw client (see beforeAll)');
  return raw;
}

function registry(options: Record<string, unknown> = {}, logger = new MemoryLogger()): ZookeeperRegistry {
  const r = new ZookeeperRegistry({ address: address(), sessionTimeout: 4000, ...options }, logger);
  open.push(r);
  return r;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

/**
 * A fake ZooKeeper on 127.0.0.1:`port`: accepts the session (a well-formed connect response), then
 * hands every request's xid to `respond`, which answers as it likes (or not at all).
 */
async function fakeZooKeeper(port: number, respond: (socket: net.Socket, xid: number) => void) {
  const connections: net.Socket[] = [];
  const server = net.createServer((socket) => {
    connections.push(socket);
    let connected = false;
    let buffered = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.length);
        if (!connected) {
          connected = true;
          const body = Buffer.alloc(36);
          body.writeInt32BE(0, 0); // protocol version
          body.writeInt32BE(4000, 4); // negotiated session timeout
          body.writeBigInt64BE(BigInt(connections.length), 8); // session id
          body.writeInt32BE(16, 16); // password length, then 16 zero bytes
          const reply = Buffer.alloc(4 + body.length);
          reply.writeInt32BE(body.length, 0);
          body.copy(reply, 4);
          socket.write(reply);
        } else if (frame.length >= 8 && frame.readInt32BE(0) >= 0) {
          respond(socket, frame.readInt32BE(0)); // pings (xid -2) are left unanswered
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${port}`,
    connections,
    close: async () => {
      for (const s of connections) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const warnings = (logger: MemoryLogger) => logger.entries.filter((e) => e.level === 'warn').map((e) => e.message);

beforeAll(async () => {
  dir = tempDir('behaviour');
  server = await startZooKeeper(PORTS.behaviour, dir);
  raw = await RawClient.connect(server.address);
});

afterEach(async () => {
  const closing = open;
  open = [];
  await Promise.all(closing.map((r) => r.close()));
});

afterAll(async () => {
  await raw?.close();
  await server?.stop();
  removeDir(dir);
});

describe('layout', () => {
  it('providers and consumers are ephemeral nodes of the session; routers and configurators are persistent and outlive close()', async () => {
    const iface = uniqueInterface();
    const r = registry();
    const p1 = provider(iface, 1);
    const c1 = consumer(iface);
    const rule = new URL('condition', '0.0.0.0', 0, iface, { category: 'routers', rule: 'host = 10.0.1.1 => ' });
    const override = new URL('override', '0.0.0.0', 0, iface, { category: 'configurators', weight: '50' });
    for (const u of [p1, c1, rule, override]) await r.register(u);

    const root = `/plexus/${iface}`;
    const session = sessionIdOf(r);
    for (const [category, url] of [['providers', p1], ['consumers', c1]] as const) {
      expect(await inspect().children(`${root}/${category}`)).toEqual([registryLayout.encode(url)]);
      const stat = await inspect().stat(`${root}/${category}/${registryLayout.encode(url)}`);
      expect(stat?.ephemeralOwner.toString('hex')).toBe(session);
    }
    for (const [category, url] of [['routers', rule], ['configurators', override]] as const) {
      const stat = await inspect().stat(`${root}/${category}/${registryLayout.encode(url)}`);
      expect(stat?.ephemeralOwner.toString('hex')).toBe('0000000000000000');
    }
    // The folders themselves are persistent.
    expect((await inspect().stat(`${root}/providers`))?.ephemeralOwner.toString('hex')).toBe('0000000000000000');

    await r.close();
    expect(await inspect().children(`${root}/providers`)).toEqual([]);
    expect(await inspect().children(`${root}/consumers`)).toEqual([]);
    expect(await inspect().children(`${root}/routers`)).toEqual([registryLayout.encode(rule)]);
    expect(await inspect().children(`${root}/configurators`)).toEqual([registryLayout.encode(override)]);
  });

  it('root: every node goes under the configured root', async () => {
    const iface = uniqueInterface();
    const r = registry({ root: '/teams/blue/' });
    const p1 = provider(iface, 1);
    await r.register(p1);
    expect(await inspect().children(`/teams/blue/${iface}/providers`)).toEqual([registryLayout.encode(p1)]);
    expect(await inspect().stat(`/plexus/${iface}`)).toBeNull();
    const seen = new Recorder();
    await r.subscribe(consumer(iface), seen.listener);
    await until(() => seen.sees([p1]), 'the provider under the custom root');
  });

  it('subscribe watches the categories of the category param; lookup reads them once and creates nothing', async () => {
    const iface = uniqueInterface();
    const r = registry();
    const p1 = provider(iface, 1);
    const rule = new URL('condition', '0.0.0.0', 0, iface, { category: 'routers', rule: 'x' });
    await r.register(p1);
    await r.register(rule);
    const seen = new Recorder();
    await r.subscribe(consumer(iface, { category: 'providers,routers' }), seen.listener);
    await until(() => seen.sees([p1, rule]), 'providers and routers together');
    expect((await r.lookup(consumer(iface, { category: 'routers' }))).map(String)).toEqual([rule.toString()]);
    expect((await r.lookup(consumer(iface))).map(String)).toEqual([p1.toString()]);
    const absent = uniqueInterface('Absent');
    expect(await r.lookup(consumer(absent))).toEqual([]);
    expect(await inspect().stat(`/plexus/${absent}`)).toBeNull();
  });

  it('services() lists interfaces that have entries, not those with empty folders only', async () => {
    const root = `svc${Date.now().toString(36)}`;
    const r = registry({ root });
    const [a, b, empty] = [uniqueInterface('A'), uniqueInterface('B'), uniqueInterface('Empty')];
    await r.register(provider(a, 1));
    await r.register(new URL('override', '0.0.0.0', 0, b, { category: 'configurators', weight: '1' }));
    const seen = new Recorder();
    await r.subscribe(consumer(empty), seen.listener); // creates /root/empty/providers, with no entry
    await until(() => seen.count > 0, 'the empty list');
    expect(await r.services()).toEqual([a, b].sort());
    expect(await registry({ root: `${root}-none` }).services()).toEqual([]);
  });
});

describe('register', () => {
  it('takes over an ephemeral entry left by another session (a provider restarted before its old session expired)', async () => {
    const iface = uniqueInterface();
    const p1 = provider(iface, 1);
    const path = registryLayout.entry(p1);
    const old = await RawClient.connect(address());
    await old.create(path, zookeeper.CreateMode.EPHEMERAL);
    const r = registry();
    await r.register(p1);
    expect((await inspect().stat(path))?.ephemeralOwner.toString('hex')).toBe(sessionIdOf(r));
    // The old session ending no longer takes the entry away.
    await old.close();
    expect(await inspect().stat(path)).not.toBeNull();
  });

  it('refuses an entry longer than maxEntryLength with a coded error', async () => {
    const iface = uniqueInterface();
    const r = registry({ maxEntryLength: 200 });
    const err = await rejection(r.register(provider(iface, 1, { methods: 'm'.repeat(300) })));
    expect(PlexusError.is(err, 'PLEXUS_ERR_ZOOKEEPER_ENTRY_TOO_LONG')).toBe(true);
    await r.register(provider(iface, 2));
  });
});

describe('hostile or foreign entries', () => {
  it('skips entries that do not decode, each with one warning naming it, and keeps listing the rest', async () => {
    const iface = uniqueInterface();
    const folder = `/plexus/${iface}/providers`;
    const garbage = ['not-a-url', '%E0%A4%A', 'x'.repeat(9000)];
    for (const name of garbage) await inspect().create(`${folder}/${name}`);
    const logger = new MemoryLogger();
    const r = registry({}, logger);
    const p1 = provider(iface, 1);
    await r.register(p1);
    const seen = new Recorder();
    await r.subscribe(consumer(iface), seen.listener);
    await until(() => seen.sees([p1]), 'the good entry alone');
    // More changes re-read the folder; the same bad entries are not warned about again.
    const p2 = provider(iface, 2);
    await r.register(p2);
    await until(() => seen.sees([p1, p2]), 'the second good entry');
    expect(await r.lookup(consumer(iface))).toHaveLength(2);
    const warned = warnings(logger);
    expect(warned).toHaveLength(3);
    expect(warned.some((w) => w.includes('not-a-url'))).toBe(true);
    expect(warned.some((w) => w.includes('%E0%A4%A'))).toBe(true);
    expect(warned.some((w) => w.includes('9000 characters') && w.length < 1000)).toBe(true);
  });

  it('maxEntryLength: a reader skips longer entries that a writer with a larger limit wrote', async () => {
    const iface = uniqueInterface();
    const long = provider(iface, 1, { methods: 'm'.repeat(300) });
    const short = provider(iface, 2);
    const writer = registry();
    await writer.register(long);
    await writer.register(short);
    const logger = new MemoryLogger();
    const reader = registry({ maxEntryLength: 200 }, logger);
    const seen = new Recorder();
    await reader.subscribe(consumer(iface), seen.listener);
    await until(() => seen.sees([short]), 'the short entry alone');
    expect(warnings(logger).filter((w) => w.includes('maxEntryLength'))).toHaveLength(1);
  });

  it('maxChildren: reads at most that many entries per category, with one warning', async () => {
    const iface = uniqueInterface();
    const writer = registry();
    const all = [1, 2, 3, 4, 5].map((n) => provider(iface, n));
    for (const p of all) await writer.register(p);
    const logger = new MemoryLogger();
    const reader = registry({ maxChildren: 3 }, logger);
    const seen = new Recorder();
    await reader.subscribe(consumer(iface), seen.listener);
    await until(() => seen.count > 0, 'the first list');
    expect(seen.lists[0]).toHaveLength(3);
    // ZooKeeper lists children in no set order: remove one that was read, so the list changes.
    await writer.unregister(URL.parse(seen.lists[0][0]));
    await until(() => seen.count > 1, 'the list after a change');
    expect(seen.lists[seen.count - 1]).not.toContain(seen.lists[0][0]);
    expect(seen.lists[seen.count - 1]).toHaveLength(3);
    expect(warnings(logger).filter((w) => w.includes('maxChildren'))).toHaveLength(1);
  });

  it('a listener that throws is logged and does not stop the others', async () => {
    const iface = uniqueInterface();
    const logger = new MemoryLogger();
    const r = registry({}, logger);
    const p1 = provider(iface, 1);
    await r.register(p1);
    await r.subscribe(consumer(iface), () => {
      throw new Error('listener bug');
    });
    const seen = new Recorder();
    await r.subscribe(consumer(iface), seen.listener);
    await until(() => seen.sees([p1]), 'the healthy listener');
    await until(() => logger.entries.some((e) => e.level === 'error' && e.message.includes('listener bug')), 'the logged listener error');
  });
});

describe('subscriptions', () => {
  it('delivers asynchronously, never inside subscribe, and an equal (url, listener) re-delivers instead of doubling', async () => {
    const iface = uniqueInterface();
    const r = registry();
    const p1 = provider(iface, 1);
    await r.register(p1);
    const seen = new Recorder();
    const barrier = new Recorder();
    const subscribing = r.subscribe(consumer(iface), seen.listener);
    expect(seen.count).toBe(0);
    await subscribing;
    await r.subscribe(consumer(iface, { check: 'false' }), barrier.listener);
    await until(() => seen.sees([p1]) && barrier.sees([p1]), 'both listeners');
    // The first list arrives once, not once from the read and once more from subscribe.
    expect(seen.count).toBe(1);
    const before = seen.count;
    await r.subscribe(consumer(iface), seen.listener);
    await until(() => seen.count === before + 1, 'the re-delivered list');
    const p2 = provider(iface, 2);
    await r.register(p2);
    // The barrier shares the folder's watch: once it heard the change, `seen` was told too, once.
    await until(() => barrier.sees([p1, p2]), 'the barrier to see the change');
    await until(() => seen.sees([p1, p2]), 'the change');
    expect(seen.count).toBe(before + 2);
  });

  it('register and subscribe after close() reject with a coded error; unregister and unsubscribe resolve', async () => {
    const iface = uniqueInterface();
    const r = registry();
    await r.close();
    expect(PlexusError.is(await rejection(r.register(provider(iface, 1))), 'PLEXUS_ERR_ZOOKEEPER_CLOSED')).toBe(true);
    expect(PlexusError.is(await rejection(r.subscribe(consumer(iface), () => undefined)), 'PLEXUS_ERR_ZOOKEEPER_CLOSED')).toBe(true);
    await expect(r.unregister(provider(iface, 1))).resolves.toBeUndefined();
    await expect(r.unsubscribe(consumer(iface), () => undefined)).resolves.toBeUndefined();
    await expect(r.close()).resolves.toBeUndefined();
  });
});

describe('unreachable or stalled servers', () => {
  it('connectTimeout: with nobody listening, operations reject with PLEXUS_ERR_ZOOKEEPER_UNAVAILABLE in about that time', async () => {
    const r = new ZookeeperRegistry({ address: `127.0.0.1:${PORTS.nobody}`, connectTimeout: 300 }, new MemoryLogger());
    open.push(r);
    const states = stateLog(r);
    const iface = uniqueInterface();
    for (const op of [() => r.register(provider(iface, 1)), () => r.subscribe(consumer(iface), () => undefined), () => r.services(), () => r.lookup(consumer(iface))]) {
      const started = Date.now();
      const err = await rejection(op());
      const took = Date.now() - started;
      expect(PlexusError.is(err, 'PLEXUS_ERR_ZOOKEEPER_UNAVAILABLE')).toBe(true);
      expect((err as Error).message).toContain(`127.0.0.1:${PORTS.nobody}`);
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(3000);
    }
    // Never connected: nothing to report yet.
    expect(states).toEqual([]);
    const started = Date.now();
    await r.close();
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('requestTimeout: a server that accepts the session and then never answers costs PLEXUS_ERR_ZOOKEEPER_TIMEOUT and a new connection', async () => {
    const fake = await fakeZooKeeper(PORTS.mute, () => undefined);
    try {
      const r = new ZookeeperRegistry({ address: fake.address, requestTimeout: 300 }, new MemoryLogger());
      open.push(r);
      const started = Date.now();
      const err = await rejection(r.register(provider(uniqueInterface(), 1)));
      expect(PlexusError.is(err, 'PLEXUS_ERR_ZOOKEEPER_TIMEOUT')).toBe(true);
      expect(Date.now() - started).toBeLessThan(3000);
      // The stalled connection was dropped and the driver dialled again.
      await until(() => fake.connections.length >= 2, 'a second connection', 5000);
      await r.close();
    } finally {
      await fake.close();
    }
  });

  it('a reply the driver cannot read (unknown error code) drops the connection instead of crashing the process', async () => {
    const fake = await fakeZooKeeper(PORTS.mute, (socket, xid) => {
      const reply = Buffer.alloc(20);
      reply.writeInt32BE(16, 0);
      reply.writeInt32BE(xid, 4);
      reply.writeBigInt64BE(1n, 8); // zxid
      reply.writeInt32BE(-98765, 16); // no such ZooKeeper error code
      socket.write(reply);
    });
    try {
      const logger = new MemoryLogger();
      const r = new ZookeeperRegistry({ address: fake.address, requestTimeout: 500, connectTimeout: 500 }, logger);
      open.push(r);
      const err = await rejection(r.register(provider(uniqueInterface(), 1)));
      expect(PlexusError.is(err) && /ZOOKEEPER_(TIMEOUT|UNAVAILABLE)/.test(err.code)).toBe(true);
      await until(() => warnings(logger).some((w) => w.includes('could not read')), 'the warning about the bad frame', 5000);
      await until(() => fake.connections.length >= 2, 'a new connection', 5000);
      await r.close();
    } finally {
      await fake.close();
    }
  });

  it('a frame announcing more than MAX_FRAME_BYTES is not buffered: the connection is dropped', async () => {
    let sent = 0;
    const fake = await fakeZooKeeper(PORTS.mute, (socket) => {
      const header = Buffer.alloc(4);
      header.writeInt32BE(0x7fffffff, 0); // a 2 GiB frame...
      socket.write(header);
      const chunk = Buffer.alloc(256 * 1024);
      // ...of which 6 MiB are sent, more than the limit, less than what would hurt the test.
      for (let i = 0; i < 24 && !socket.destroyed; i++) {
        socket.write(chunk);
        sent += chunk.length;
      }
    });
    try {
      const logger = new MemoryLogger();
      const r = new ZookeeperRegistry({ address: fake.address, requestTimeout: 1000, connectTimeout: 500 }, logger);
      open.push(r);
      const err = await rejection(r.register(provider(uniqueInterface(), 1)));
      expect(PlexusError.is(err) && /ZOOKEEPER_(TIMEOUT|UNAVAILABLE)/.test(err.code)).toBe(true);
      await until(() => warnings(logger).some((w) => w.includes(`larger than ${MAX_FRAME_BYTES}`)), 'the warning about the frame size', 5000);
      expect(sent).toBeGreaterThan(MAX_FRAME_BYTES);
      await r.close();
    } finally {
      await fake.close();
    }
  });
});

describe('options and plugin', () => {
  it('validates options with coded errors and documented defaults', () => {
    expect(resolveOptions({ address: '127.0.0.1:2181' })).toEqual({ address: '127.0.0.1:2181', ...ZOOKEEPER_DEFAULTS });
    expect(resolveOptions({ address: 'a:1, b:2', sessionTimeout: '6000', root: '/x/y/' })).toMatchObject({ address: 'a:1,b:2', sessionTimeout: 6000, root: 'x/y' });
    for (const bad of [{}, { address: '' }, { address: 'nohost' }, { address: 'h:0' }, { address: 'h:70000' }, { address: 'h:1', sessionTimeout: 0 }, { address: 'h:1', requestTimeout: -1 }, { address: 'h:1', connectTimeout: 1.5 }, { address: 'h:1', root: 'a//b' }, { address: 'h:1', root: '..' }, { address: 'h:1', maxChildren: 0 }]) {
      let err: unknown;
      try {
        resolveOptions(bad);
      } catch (e) {
        err = e;
      }
      expect(PlexusError.is(err, 'PLEXUS_ERR_ZOOKEEPER_BAD_OPTIONS')).toBe(true);
    }
  });

  it('sessionTimeout is what the client asks the server for', async () => {
    const r = registry({ sessionTimeout: 6000 });
    const iface = uniqueInterface();
    await r.register(provider(iface, 1));
    const client = (r as unknown as { client: zookeeper.Client }).client;
    expect(client.getSessionTimeout()).toBe(6000);
  });

  it('the plugin declares the zookeeper registry, with a schema, and creates it from ctx.options', async () => {
    const [ext] = plugin.extensions;
    expect(ext).toMatchObject({ point: 'registry', name: 'zookeeper' });
    expect(ext.optionsSchema).toMatchObject({ required: ['address'] });
    const logger = new MemoryLogger();
    const r = ext.create(fakeExtensionContext({ type: 'zookeeper', address: address(), snapshot: false }, { logger })) as ZookeeperRegistry;
    open.push(r);
    expect(r).toBeInstanceOf(ZookeeperRegistry);
    const iface = uniqueInterface();
    await r.register(provider(iface, 1));
    expect(await inspect().children(`/plexus/${iface}/providers`)).toHaveLength(1);
    expect(() => ext.create(fakeExtensionContext({ type: 'zookeeper' }))).toThrow(/PLEXUS_ERR_ZOOKEEPER_BAD_OPTIONS|address is required/);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { PlexusError, URL, type RegistryState } from '@plexus/kernel/spi';
import { rejectionOf, waitFor } from '@plexus/kernel/testing';
import { NacosRegistry } from '../src/nacos-registry';
import { deadPort, FakeNacos, fakeBase, lockNetwork, RecordingLogger } from './support/fake-nacos';

const FIXTURES = path.join(__dirname, 'fixtures', 'nacos-2.2');
const answers = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'answers.json'), 'utf8')) as Record<string, unknown>;

/** Loads a recorded exchange file into nock, answering on `base` instead of the recorded scope. */
function recorded(file: string, base: string): nock.Scope[] {
  const defs = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as nock.Definition[];
  return nock.define(defs.map((d) => ({ ...d, scope: base })));
}

/** The provider URL the recordings were made with. */
const RECORDED = URL.parse(
  'plexus://10.0.0.7:20880/demo.Greeter?application=shop&group=blue&methods=sayHello%2CsayBye&pid=4242&serializer=msgpack&side=provider&timestamp=1700000000000&version=1.0.0&weight=100',
);

function provider(n: number, iface = 'demo.Greeter', params: Record<string, string> = {}): URL {
  return new URL('plexus', `10.0.0.${n}`, 20880, iface, { application: `app${n}`, side: 'provider', ...params });
}
function consumer(iface = 'demo.Greeter', params: Record<string, string> = {}): URL {
  return new URL('consumer', '10.0.0.200', 0, iface, { application: 'client', side: 'consumer', ...params });
}

/** A listener keeping every list it got, as sorted URL strings. */
function recorder() {
  const lists: string[][] = [];
  return { lists, listener: (urls: URL[]) => void lists.push(urls.map((u) => u.toString()).sort()), latest: () => lists[lists.length - 1] };
}

const open: NacosRegistry[] = [];
function registry(options: Record<string, unknown>, logger = new RecordingLogger()): NacosRegistry {
  const r = new NacosRegistry({ pollInterval: 20, beatInterval: 50, requestTimeout: 1000, ...options }, logger);
  open.push(r);
  return r;
}

beforeAll(() => lockNetwork());
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => undefined);
  nock.cleanAll();
});
afterAll(() => nock.enableNetConnect());

describe('recorded exchanges (Nacos 2.2 open API v1)', () => {
  it('registers an ephemeral instance with the URL in its metadata, beats, and deregisters', async () => {
    const base = fakeBase();
    const scopes = recorded('register-beat-deregister.json', base);
    const r = registry({ address: base.slice(7), beatInterval: 30 });
    await r.register(RECORDED);
    await waitFor(() => scopes.every((s) => s.pendingMocks().every((m) => m.startsWith('DELETE'))), 10000, 'the recorded heartbeat');
    await r.unregister(RECORDED);
    for (const s of scopes) expect(s.pendingMocks()).toEqual([]);
  });

  it('registers again when a beat answers 20404 (the server lost the instance)', async () => {
    const base = fakeBase();
    const scopes = recorded('beat-not-found.json', base);
    const logger = new RecordingLogger();
    const r = registry({ address: base.slice(7), beatInterval: 30 }, logger);
    await r.register(RECORDED);
    await waitFor(() => scopes.every((s) => s.isDone()), 10000, 'beat 20404, the second POST and a good beat');
    expect(logger.lines.some((l) => l.level === 'info' && /registering it again/.test(l.message))).toBe(true);
    // The instance is gone from the recording's server when the test ends; nothing else is asked.
    nock(base).delete(/.*/).reply(200, 'ok');
  });

  it('decodes the recorded instance list: Plexus entries in, Dubbo-written one skipped with one coded warning, disabled and unhealthy left out', async () => {
    const base = fakeBase();
    nock(base).persist().get('/nacos/v1/ns/service/list').query(true).reply(200, answers['service-list'] as nock.Body);
    let listed = 0;
    nock(base)
      .persist()
      .get('/nacos/v1/ns/instance/list')
      .query(true)
      .reply(200, (uri) => {
        const service = new globalThis.URL(uri, base).searchParams.get('serviceName');
        if (service !== 'providers:demo.Greeter:1.0.0:blue') return { name: service, hosts: [] };
        listed++;
        return answers['instance-list'] as nock.Body;
      });
    const logger = new RecordingLogger();
    const r = registry({ address: base.slice(7) }, logger);
    const seen = recorder();
    await r.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.lists.length > 0, 10000, 'the first list');
    expect(seen.latest()).toEqual([RECORDED.toString()]);
    // Several polling rounds later the bad entry was still warned about once, and nothing changed.
    await waitFor(() => listed >= 4, 10000, 'three more polling rounds');
    const bad = logger.warnings('PLEXUS_ERR_NACOS_BAD_ENTRY');
    expect(bad).toHaveLength(1);
    expect(bad[0].fields?.entry).toBe('providers:demo.Greeter:1.0.0:blue 10.0.0.5:20880');
    expect(seen.lists).toHaveLength(1);
  });
});

describe('against the in-test Nacos', () => {
  let fake: FakeNacos;
  beforeEach(() => {
    fake = new FakeNacos(fakeBase());
  });

  it('names services {category}:{interface}:{version}:{group} and writes Dubbo-readable metadata', async () => {
    const r = registry({ address: fake.address });
    await r.register(provider(1, 'demo.Greeter', { version: '2.0.0' }));
    await r.register(consumer('demo.Greeter', { group: 'g1' }));
    const [p] = fake.instances('providers:demo.Greeter:2.0.0:');
    expect(p).toMatchObject({ ip: '10.0.0.1', port: 20880, ephemeral: true });
    expect(p.metadata).toMatchObject({ protocol: 'plexus', path: 'demo.Greeter', category: 'providers', version: '2.0.0', 'plexus.url': provider(1, 'demo.Greeter', { version: '2.0.0' }).toString() });
    expect(fake.instances('consumers:demo.Greeter::g1')).toHaveLength(1);
    await expect(r.register(provider(1, 'bad:name'))).rejects.toMatchObject({ code: 'PLEXUS_ERR_NACOS_NAME' });
  });

  it('beatInterval: beats at that period; with the default (5 s) nothing beats within 300 ms', async () => {
    const fast = registry({ address: fake.address, beatInterval: 40 });
    await fast.register(provider(1));
    await waitFor(() => fake.count('PUT', '/v1/ns/instance/beat') >= 3, 10000, 'three heartbeats');
    await fast.close();
    const before = fake.count('PUT', '/v1/ns/instance/beat');
    const slow = new NacosRegistry({ address: fake.address }, new RecordingLogger());
    open.push(slow);
    await slow.register(provider(2));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fake.count('PUT', '/v1/ns/instance/beat')).toBe(before);
  });

  it('a server that lost its instances gets them back from the next beat, and subscribers see them again', async () => {
    const providerSide = registry({ address: fake.address, beatInterval: 30 });
    const watcher = registry({ address: fake.address });
    const p1 = provider(1);
    await providerSide.register(p1);
    const seen = recorder();
    await watcher.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.latest()?.join() === p1.toString(), 10000, 'the provider');
    const registrations = fake.count('POST', '/v1/ns/instance');
    fake.forgetInstances();
    expect(fake.instances('providers:demo.Greeter::')).toHaveLength(0);
    // The next beat is answered 20404 and registers the instance again. (Whether the watcher's
    // poll catches the short gap in between is timing; what it must see afterwards is the provider.)
    await waitFor(() => fake.count('POST', '/v1/ns/instance') > registrations && fake.instances('providers:demo.Greeter::').length === 1, 10000, 'the instance registered again after the 20404 beat');
    await waitFor(() => seen.latest()?.join() === p1.toString(), 10000, 'the provider listed again');
    expect(fake.instances('providers:demo.Greeter::')[0].metadata['plexus.url']).toBe(p1.toString());
  });

  it('pollInterval: polls at that period and notifies only when the list changed', async () => {
    const r = registry({ address: fake.address, pollInterval: 30 });
    const seen = recorder();
    await r.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.lists.length === 1, 10000, 'the first list');
    const polls = fake.count('GET', '/v1/ns/service/list');
    await waitFor(() => fake.count('GET', '/v1/ns/service/list') >= polls + 4, 10000, 'four more polling rounds');
    expect(seen.lists).toEqual([[]]);
    await registry({ address: fake.address }).register(provider(1));
    await waitFor(() => seen.lists.length === 2, 10000, 'the change');
    expect(seen.latest()).toEqual([provider(1).toString()]);

    const slow = registry({ address: fake.address, pollInterval: 60_000 });
    const slowSeen = recorder();
    await slow.subscribe(consumer(), slowSeen.listener);
    await registry({ address: fake.address }).register(provider(2));
    await waitFor(() => seen.lists.length === 3, 10000, 'the fast poller to see the second provider');
    expect(slowSeen.lists).toEqual([[provider(1).toString()]]);
  });

  it('unregister deletes the instance; another URL of ours on the same ip:port is put back', async () => {
    const r = registry({ address: fake.address });
    const a = provider(1, 'demo.Greeter', { weight: '100' });
    const b = provider(1, 'demo.Greeter', { weight: '200' });
    await r.register(a);
    await r.register(b);
    expect(fake.instances('providers:demo.Greeter::')).toHaveLength(1);
    await r.unregister(b);
    const left = fake.instances('providers:demo.Greeter::');
    expect(left.map((i) => i.metadata['plexus.url'])).toEqual([a.toString()]);
    await r.unregister(a);
    expect(fake.instances('providers:demo.Greeter::')).toEqual([]);
  });

  it('namespace and group: entries of one are not seen from another', async () => {
    const a = registry({ address: fake.address, namespace: 'ns-a', group: 'G1' });
    const b = registry({ address: fake.address, namespace: 'ns-b', group: 'G1' });
    const c = registry({ address: fake.address, namespace: 'ns-a', group: 'G2' });
    await a.register(provider(1));
    expect(fake.instances('providers:demo.Greeter::', 'G1', 'ns-a')).toHaveLength(1);
    expect(await a.lookup(consumer())).toHaveLength(1);
    expect(await b.lookup(consumer())).toEqual([]);
    expect(await c.lookup(consumer())).toEqual([]);
    expect(await c.services()).toEqual([]);
    expect(await a.services()).toEqual(['demo.Greeter']);
  });

  it('services() lists interfaces with providers or consumers; lookup() reads once', async () => {
    const r = registry({ address: fake.address });
    await r.register(provider(1, 'demo.A'));
    await r.register(consumer('demo.B'));
    fake.addInstance('not-a-plexus-name', { ip: '10.1.1.1', port: 1 });
    expect(await r.services()).toEqual(['demo.A', 'demo.B']);
    expect((await r.lookup(consumer('demo.A'))).map(String)).toEqual([provider(1, 'demo.A').toString()]);
    expect((await r.lookup(consumer('demo.B', { category: 'consumers' }))).map(String)).toEqual([consumer('demo.B').toString()]);
  });

  it('close() deletes our instances, keeps rules, and stops every timer', async () => {
    const r = registry({ address: fake.address, beatInterval: 20, pollInterval: 20 });
    const rule = new URL('condition', '0.0.0.0', 0, 'demo.Greeter', { category: 'routers', rule: 'host = 10.0.0.1' });
    await r.register(provider(1));
    await r.register(rule);
    await r.subscribe(consumer(), () => undefined);
    await r.close();
    expect(fake.instances('providers:demo.Greeter::')).toEqual([]);
    expect(fake.config('routers:demo.Greeter')).toBe(`${rule.toString()}\n`);
    const calls = fake.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(fake.calls.length).toBe(calls);
    await expect(r.register(provider(2))).rejects.toMatchObject({ code: 'PLEXUS_ERR_NACOS_CLOSED' });
  });

  describe('rules in the config API', () => {
    const rule = (n: number, category = 'routers') =>
      new URL('condition', '0.0.0.0', 0, 'demo.Greeter', { category, rule: `host = 10.0.0.${n}`, priority: String(n) });

    it('several rules of one interface share a config, are listed by category, and leave no config when all are gone', async () => {
      const writer = registry({ address: fake.address });
      const reader = registry({ address: fake.address });
      const seen = recorder();
      await reader.subscribe(consumer('demo.Greeter', { category: 'routers,configurators' }), seen.listener);
      await writer.register(rule(1));
      await writer.register(rule(2));
      await writer.register(rule(2));
      await writer.register(rule(3, 'configurators'));
      expect(fake.config('routers:demo.Greeter')).toBe(`${rule(1)}\n${rule(2)}\n`);
      await waitFor(() => seen.latest()?.length === 3, 10000, 'three rules');
      expect(seen.latest()).toEqual([rule(1), rule(2), rule(3, 'configurators')].map(String).sort());
      await writer.unregister(rule(1));
      await writer.unregister(rule(2));
      expect(fake.config('routers:demo.Greeter')).toBeUndefined();
      await waitFor(() => seen.latest()?.length === 1, 10000, 'only the configurator');
    });

    it('writes compare-and-set: a conflicting write is read again and retried, endless conflicts give a coded error', async () => {
      const r = registry({ address: fake.address });
      await r.register(rule(1));
      fake.casConflicts = 2;
      await r.register(rule(2));
      expect(fake.config('routers:demo.Greeter')).toBe(`${rule(1)}\n${rule(2)}\n`);
      fake.casConflicts = 100;
      const err = await rejectionOf(r.register(rule(3)));
      expect(PlexusError.is(err, 'PLEXUS_ERR_NACOS_CONFLICT')).toBe(true);
    });

    it('a line that is not a rule URL is skipped with one warning', async () => {
      const logger = new RecordingLogger();
      const r = registry({ address: fake.address }, logger);
      fake.configs.set('|DEFAULT_GROUP|routers:demo.Greeter', `# written by hand\nnot a url\n${rule(1)}\n`);
      const seen = recorder();
      await r.subscribe(consumer('demo.Greeter', { category: 'routers' }), seen.listener);
      await waitFor(() => seen.lists.length > 0, 10000, 'the rules');
      expect(seen.latest()).toEqual([rule(1).toString()]);
      await waitFor(() => fake.count('GET', '/v1/cs/configs') >= 4, 10000, 'more polling rounds');
      expect(logger.warnings('PLEXUS_ERR_NACOS_BAD_ENTRY')).toHaveLength(1);
    });
  });

  describe('auth', () => {
    beforeEach(() => {
      nock.cleanAll();
      fake = new FakeNacos(fakeBase(), { auth: { username: 'nacos', password: 's3cret', tokenTtl: 1 } });
    });

    it('logs in, sends the token, and logs in again before the token runs out', async () => {
      const r = registry({ address: fake.address, username: 'nacos', password: 's3cret' });
      await r.register(provider(1));
      expect(fake.count('POST', '/v1/auth/login')).toBe(1);
      const register = fake.calls.find((c) => c.path === '/v1/ns/instance')!;
      expect(register.params.get('accessToken')).toBe('token-1');
      // tokenTtl 1 s: renewed after 900 ms.
      await new Promise((resolve) => setTimeout(resolve, 950));
      await r.register(provider(2));
      expect(fake.count('POST', '/v1/auth/login')).toBe(2);
    });

    it('logs in again when the server answers 403 token expired', async () => {
      fake = new FakeNacos(fakeBase(), { auth: { username: 'nacos', password: 's3cret' } });
      const r = registry({ address: fake.address, username: 'nacos', password: 's3cret' });
      await r.register(provider(1));
      fake.revokeTokens();
      await r.register(provider(2));
      expect(fake.count('POST', '/v1/auth/login')).toBe(2);
      expect(fake.instances('providers:demo.Greeter::')).toHaveLength(2);
    });

    it('a wrong password is PLEXUS_ERR_NACOS_AUTH; no credentials is a coded 403', async () => {
      const wrong = registry({ address: fake.address, username: 'nacos', password: 'nope' });
      await expect(wrong.register(provider(1))).rejects.toMatchObject({ code: 'PLEXUS_ERR_NACOS_AUTH' });
      const none = registry({ address: fake.address });
      const err = await rejectionOf(none.register(provider(1)));
      expect(PlexusError.is(err, 'PLEXUS_ERR_NACOS_REQUEST')).toBe(true);
      expect((err as Error).message).toMatch(/HTTP 403/);
    });
  });

  describe('faults', () => {
    it('fails over to the next server when one refuses connections', async () => {
      const dead = await deadPort();
      const r = registry({ address: `127.0.0.1:${dead},${fake.address}` });
      const states: RegistryState[] = [];
      r.onStateChange((s) => states.push(s));
      await r.register(provider(1));
      await r.register(provider(2));
      expect(fake.instances('providers:demo.Greeter::')).toHaveLength(2);
      expect(states).toEqual(['connected']);
    });

    it('fails over past a server answering 503 and stays on the one that answered', async () => {
      const sick = new FakeNacos(fakeBase());
      sick.failWith = 503;
      const r = registry({ address: `${sick.address},${fake.address}` });
      await r.register(provider(1));
      await r.register(provider(2));
      // The server that answered is asked first from then on: the sick one saw the first request only.
      expect(sick.count('POST', '/v1/ns/instance')).toBe(1);
      expect(fake.instances('providers:demo.Greeter::')).toHaveLength(2);
    });

    it('connection refused everywhere: a coded rejection in bounded time and a disconnected state', async () => {
      const dead = await deadPort();
      const r = registry({ address: `127.0.0.1:${dead}` });
      const states: RegistryState[] = [];
      r.onStateChange((s) => states.push(s));
      const started = Date.now();
      const err = await rejectionOf(r.register(provider(1)));
      expect(PlexusError.is(err, 'PLEXUS_ERR_NACOS_UNREACHABLE')).toBe(true);
      expect((err as Error).message).toMatch(/ECONNREFUSED/);
      expect(Date.now() - started).toBeLessThan(1000);
      await expect(r.subscribe(consumer(), () => undefined)).rejects.toMatchObject({ code: 'PLEXUS_ERR_NACOS_UNREACHABLE' });
      expect(states).toEqual(['disconnected']);
    });

    it('requestTimeout bounds a request to a server that does not answer', async () => {
      const base = fakeBase();
      nock(base).persist().post('/nacos/v1/ns/instance').delay(400).reply(200, 'ok');
      const r = registry({ address: base.slice(7), requestTimeout: 100 });
      const started = Date.now();
      const err = await rejectionOf(r.register(provider(1)));
      expect(PlexusError.is(err, 'PLEXUS_ERR_NACOS_UNREACHABLE')).toBe(true);
      expect((err as Error).message).toMatch(/no answer within 100 ms/);
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('an outage: subscribers keep the last list, the state goes disconnected then reconnected, and lists resume', async () => {
      const providerSide = registry({ address: fake.address, beatInterval: 30 });
      const logger = new RecordingLogger();
      const watcher = registry({ address: fake.address }, logger);
      const states: RegistryState[] = [];
      watcher.onStateChange((s) => states.push(s));
      await providerSide.register(provider(1));
      const seen = recorder();
      await watcher.subscribe(consumer(), seen.listener);
      await waitFor(() => seen.lists.length === 1, 10000, 'the first list');
      fake.failWith = 503;
      await waitFor(() => states.includes('disconnected'), 10000, 'disconnected');
      const during = seen.lists.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen.lists.length).toBe(during);
      fake.failWith = undefined;
      fake.forgetInstances();
      await waitFor(() => states[states.length - 1] === 'reconnected', 10000, 'reconnected');
      await providerSide.register(provider(2));
      await waitFor(() => seen.latest()?.length === 2, 10000, 'both providers after the outage');
      expect(states).toEqual(['connected', 'disconnected', 'reconnected']);
      // The manager subscribes again after 'reconnected': the current list is delivered again, nothing duplicated.
      const before = seen.lists.length;
      await watcher.subscribe(consumer(), seen.listener);
      await waitFor(() => seen.lists.length === before + 1, 10000, 'the list delivered again');
      expect(seen.latest()).toEqual(seen.lists[before - 1]);
    });

    it('the registry manager retries a register that failed during an outage', async () => {
      // The kernel's manager is internal; its retry is what a backend relies on after a coded rejection.
      const { RegistryManager } = await import('../../../kernel/src/registry/registry-manager');
      const base = fakeBase();
      const backend = registry({ address: base.slice(7) });
      const states: RegistryState[] = [];
      backend.onStateChange((s) => states.push(s));
      const manager = new RegistryManager([{ id: 'nacos', address: `nacos://${base.slice(7)}`, backend }], {
        logger: new RecordingLogger(),
        snapshot: false,
        retryPeriod: 50,
      });
      try {
        await manager.register(provider(1));
        // Nothing answers on that port yet: the register failed and waits for the retry timer.
        expect(states).toEqual(['disconnected']);
        const late = new FakeNacos(base);
        await waitFor(() => late.instances('providers:demo.Greeter::').length === 1 && states.length === 2, 10000, 'the retried register');
        expect(states).toEqual(['disconnected', 'connected']);
      } finally {
        await manager.close();
      }
    });
  });

  describe('hostile answers', () => {
    it('an instance list over maxResponseBytes is dropped with a coded warning and the last list stays', async () => {
      const logger = new RecordingLogger();
      const r = registry({ address: fake.address, maxResponseBytes: 4096 }, logger);
      await registry({ address: fake.address }).register(provider(1));
      const seen = recorder();
      await r.subscribe(consumer(), seen.listener);
      await waitFor(() => seen.lists.length === 1, 10000, 'the first list');
      fake.instanceListOverride = () => [200, { hosts: [], padding: 'x'.repeat(10_000) }];
      await waitFor(() => logger.lines.some((l) => /maxResponseBytes/.test(l.message)), 10000, 'the size warning');
      expect(seen.lists).toEqual([[provider(1).toString()]]);
      fake.instanceListOverride = undefined;
    });

    it('an endless body from a real loopback server is cut at the cap, not buffered', async () => {
      let written = 0;
      let closed: () => void = () => undefined;
      const clientGone = new Promise<void>((resolve) => (closed = resolve));
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(16_384, 0x20);
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) written += chunk.length;
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => closed());
        pump();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const port = (server.address() as AddressInfo).port;
        const r = registry({ address: `127.0.0.1:${port}`, maxResponseBytes: 64 * 1024, requestTimeout: 5000 });
        const err = await rejectionOf(r.services());
        expect(PlexusError.is(err, 'PLEXUS_ERR_NACOS_RESPONSE_TOO_LARGE')).toBe(true);
        await clientGone;
        // The server could write only what socket buffers held before the client hung up.
        expect(written).toBeLessThan(16 * 1024 * 1024);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('a body that is not JSON is ignored with a coded warning; instances without metadata are skipped', async () => {
      const logger = new RecordingLogger();
      const r = registry({ address: fake.address }, logger);
      await registry({ address: fake.address }).register(provider(1));
      fake.addInstance('providers:demo.Greeter::', { ip: '10.9.9.9', port: 20880, metadata: { side: 'provider' } });
      const seen = recorder();
      await r.subscribe(consumer(), seen.listener);
      await waitFor(() => seen.lists.length === 1, 10000, 'the first list');
      expect(seen.latest()).toEqual([provider(1).toString()]);
      expect(logger.warnings('PLEXUS_ERR_NACOS_BAD_ENTRY').map((w) => w.fields?.entry)).toEqual(['providers:demo.Greeter:: 10.9.9.9:20880']);
      fake.instanceListOverride = () => [200, '<html>proxy error</html>'];
      await waitFor(() => logger.warnings('PLEXUS_ERR_NACOS_BAD_RESPONSE').length > 0, 10000, 'the non-JSON warning');
      fake.instanceListOverride = () => [200, { hosts: 'nope' }];
      await waitFor(() => logger.warnings('PLEXUS_ERR_NACOS_BAD_RESPONSE').some((w) => /hosts/.test(w.message)), 10000, 'the shape warning');
      expect(seen.lists).toHaveLength(1);
      fake.instanceListOverride = undefined;
    });

    it('entries whose URL names another interface or category are skipped', async () => {
      const logger = new RecordingLogger();
      const r = registry({ address: fake.address }, logger);
      fake.addInstance('providers:demo.Greeter::', { ip: '10.9.9.1', port: 1, metadata: { 'plexus.url': provider(1, 'demo.Other').toString() } });
      fake.addInstance('providers:demo.Greeter::', { ip: '10.9.9.2', port: 1, metadata: { 'plexus.url': consumer().toString() } });
      fake.addInstance('providers:demo.Greeter::', { ip: '10.9.9.3', port: 1, metadata: { 'plexus.url': 'x'.repeat(70_000) } });
      expect(await r.lookup(consumer())).toEqual([]);
      expect(logger.warnings('PLEXUS_ERR_NACOS_BAD_ENTRY')).toHaveLength(3);
    });
  });
});

describe('options', () => {
  it('refuses bad values with coded errors', () => {
    const make = (o: Record<string, unknown>) => () => new NacosRegistry(o);
    expect(make({ address: 'nohost' })).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_NACOS_ADDRESS' }));
    expect(make({ root: 'other' })).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_NACOS_OPTION' }));
    expect(make({ username: 'nacos' })).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_NACOS_OPTION' }));
    expect(make({ pollInterval: 'soon' })).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_NACOS_OPTION' }));
    expect(make({ group: 'a@@b' })).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_NACOS_OPTION' }));
  });

  it('applies defaults, reads numbers given as strings, and accepts schemes on addresses', () => {
    const r = new NacosRegistry({ address: 'http://10.1.1.1:8848, https://10.1.1.2:8848/nacos', pollInterval: '250', root: 'plexus' });
    expect(r.options).toMatchObject({
      servers: ['http://10.1.1.1:8848', 'https://10.1.1.2:8848'],
      namespace: '',
      group: 'DEFAULT_GROUP',
      beatInterval: 5000,
      pollInterval: 250,
      requestTimeout: 3000,
      maxResponseBytes: 4 * 1024 * 1024,
    });
  });
});

/**
 * The admin server inside real applications: a provider exporting over plexus/tcp on loopback,
 * registered in the in-memory registry, and a consumer of it; every endpoint and every limit is
 * driven over real HTTP on 127.0.0.1.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { Plexus } from '@plexus/kernel';
import { ADMIN, PlexusError, type Admin } from '@plexus/kernel/spi';
import { MemoryRegistry, memoryRegistryPlugin } from '@plexus/kernel/testing';
import qosPlugin from '../src';
import { until } from './support/until';

const IFACE = 'qos.Greeter';
const OTHER = 'qos.Other';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request to 127.0.0.1:port, bounded to 5 s. */
function request(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, timeout: 5000, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const apps: Plexus[] = [];
let ns = 0;

async function provider(qos: Record<string, unknown> = {}, extensions: Record<string, unknown> = {}) {
  const namespace = `qos-app-${process.pid}-${++ns}`;
  const app = Plexus.create({
    logLevel: 'silent',
    application: { name: `qos-provider-${ns}`, handleSignals: false },
    registry: { type: 'memory', namespace },
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    qos: { port: 0, ...qos },
    extensions: { qos: { http: extensions } },
  });
  app.use(memoryRegistryPlugin).use(qosPlugin);
  app.provide(
    { interface: IFACE, version: '1.0.0' },
    {
      hello: (who: string) => `hello ${who}`,
      slow: (ms: number) => new Promise((r) => setTimeout(() => r(`slept ${ms}`), Math.min(ms, 2000))),
    },
  );
  app.provide({ interface: OTHER }, { ping: () => 'pong' });
  apps.push(app);
  await app.start();
  const admin = app.container.resolve<Admin>(ADMIN);
  return { app, namespace, port: admin.address()!.port, admin };
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
});

describe('qos endpoints', () => {
  it('answers /live, /ready and /ls with the service, its URL and online state', async () => {
    const { port, app } = await provider();
    expect(await request(port, 'GET', '/live')).toMatchObject({ status: 200, json: { live: true } });
    expect(await request(port, 'GET', '/ready')).toMatchObject({ status: 200, json: { ready: true } });
    const ls = await request(port, 'GET', '/ls');
    expect(ls.status).toBe(200);
    const url = app.exportedUrls().find((u) => u.path === IFACE)!.toString();
    expect(ls.json).toEqual({
      application: app.config.application.name,
      services: expect.arrayContaining([{ interface: IFACE, version: '1.0.0', group: '', urls: [url], online: true }]),
      references: [],
    });
  });

  it('POST /offline unregisters without stopping, /ready turns 503; POST /online registers again', async () => {
    const { port, namespace, app } = await provider();
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(1);
    const off = await request(port, 'POST', '/offline');
    expect(off).toMatchObject({ status: 200, json: { offline: expect.arrayContaining([`${IFACE}:1.0.0`, OTHER]) } });
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(0);
    expect(MemoryRegistry.providers(namespace, OTHER)).toHaveLength(0);
    expect((await request(port, 'GET', '/ready')).status).toBe(503);
    expect((await request(port, 'GET', '/live')).status).toBe(200);
    expect((await request(port, 'GET', '/ls')).json.services.map((s: { online: boolean }) => s.online)).toEqual([false, false]);
    // Still exported: a direct call is served.
    const direct = app.refer<{ hello(w: string): Promise<string> }>({ interface: IFACE, version: '1.0.0', url: app.exportedUrls()[0].toString(), check: false });
    await expect(direct.hello('ada')).resolves.toBe('hello ada');

    const on = await request(port, 'POST', '/online');
    expect(on.status).toBe(200);
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(1);
    expect((await request(port, 'GET', '/ready')).status).toBe(200);
  });

  it('?interface= takes one service offline; readiness stays while another is online', async () => {
    const { port, namespace } = await provider();
    const off = await request(port, 'POST', `/offline?interface=${encodeURIComponent(IFACE)}`);
    expect(off).toMatchObject({ status: 200, json: { offline: [`${IFACE}:1.0.0`] } });
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(0);
    expect(MemoryRegistry.providers(namespace, OTHER)).toHaveLength(1);
    expect((await request(port, 'GET', '/ready')).status).toBe(200);
    await request(port, 'POST', `/online?interface=${encodeURIComponent(IFACE)}`);
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(1);
  });

  it('an unknown interface is a coded 404 that names the known ones', async () => {
    const { port } = await provider();
    const res = await request(port, 'POST', '/offline?interface=qos.Greeterr');
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ code: 'PLEXUS_ERR_QOS_UNKNOWN_SERVICE', message: expect.stringContaining('did you mean "qos.Greeter"') });
    expect(res.json.hint).toEqual(expect.any(String));
  });

  it('unknown paths are 404 with the list of endpoints; a wrong method is 405 with Allow', async () => {
    const { port } = await provider();
    const res = await request(port, 'GET', '/nope');
    expect(res.status).toBe(404);
    expect(res.json.code).toBe('PLEXUS_ERR_QOS_NOT_FOUND');
    expect(res.json.endpoints).toEqual(expect.arrayContaining(['GET /live', 'GET /ready', 'GET /ls', 'POST /offline', 'POST /online', 'GET /metrics', 'GET /', 'POST /weight']));
    const proto = await request(port, 'GET', '/__proto__');
    expect(proto.status).toBe(404);
    const wrong = await request(port, 'GET', '/offline');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect((await request(port, 'POST', '/ls')).status).toBe(405);
  });

  it('GET /metrics serves prom-client\'s default registry', async () => {
    const prom = await import('prom-client');
    const counter = new prom.Counter({ name: 'qos_test_marker_total', help: 'a marker for the qos test' });
    counter.inc(3);
    try {
      const { port } = await provider();
      const res = await request(port, 'GET', '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.text).toContain('qos_test_marker_total 3');
    } finally {
      prom.register.removeSingleMetric('qos_test_marker_total');
    }
  });

  it('GET / serves the console with a nonce CSP and no external resource', async () => {
    const { port } = await provider();
    const res = await request(port, 'GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    const nonce = /script-src 'nonce-([^']+)'/.exec(String(res.headers['content-security-policy']))![1];
    expect(res.text).toContain(`<script nonce="${nonce}">`);
    expect(res.text).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    expect(res.text).not.toContain('innerHTML');
  });

  it('POST /weight writes an override that consumers apply to that provider', async () => {
    const { port, namespace, app } = await provider();
    const consumer = Plexus.create({
      logLevel: 'silent',
      application: { name: 'qos-consumer', handleSignals: false },
      registry: { type: 'memory', namespace },
      qos: { port: 0 },
      references: { greeter: { interface: IFACE, version: '1.0.0' } },
    });
    consumer.use(memoryRegistryPlugin).use(qosPlugin);
    apps.push(consumer);
    await consumer.start();
    const cport = consumer.container.resolve<Admin>(ADMIN).address()!.port;
    const address = app.exportedUrls()[0].address;
    const before = (await request(cport, 'GET', '/ls')).json.references[0];
    expect(before).toMatchObject({ id: 'greeter', interface: IFACE, version: '1.0.0', providers: [{ address, weight: 100, available: true }] });

    const res = await request(port, 'POST', `/weight?interface=${IFACE}&address=${address}&weight=7`);
    expect(res).toMatchObject({ status: 200, json: { override: expect.stringMatching(/^qos-weight-/) } });
    await until(async () => (await request(cport, 'GET', '/ls')).json.references[0].providers[0]?.weight === 7, 5000, 'the consumer applying weight 7');

    for (const bad of ['weight=-1', 'weight=1000001', 'weight=abc', 'weight=1.5']) {
      const r = await request(port, 'POST', `/weight?interface=${IFACE}&address=${address}&${bad}`);
      expect({ bad, status: r.status, code: r.json.code }).toEqual({ bad, status: 400, code: 'PLEXUS_ERR_QOS_BAD_WEIGHT' });
    }
    const noPort = await request(port, 'POST', `/weight?interface=${IFACE}&address=127.0.0.1&weight=5`);
    expect(noPort).toMatchObject({ status: 400, json: { code: 'PLEXUS_ERR_QOS_BAD_WEIGHT' } });
    const missing = await request(port, 'POST', `/weight?interface=${IFACE}&weight=5`);
    expect(missing).toMatchObject({ status: 400, json: { code: 'PLEXUS_ERR_QOS_BAD_REQUEST' } });
    const twice = await request(port, 'POST', `/offline?interface=a&interface=b`);
    expect(twice).toMatchObject({ status: 400, json: { code: 'PLEXUS_ERR_QOS_BAD_REQUEST' } });
  });
});

describe('qos token and origin', () => {
  it('with qos.token, mutating requests without it are 401; reads stay open', async () => {
    const { port, namespace } = await provider({ token: 's3cret' });
    expect((await request(port, 'POST', '/offline')).status).toBe(401);
    expect((await request(port, 'POST', '/offline', { authorization: 'Bearer wrong' })).json.code).toBe('PLEXUS_ERR_QOS_UNAUTHORIZED');
    expect((await request(port, 'POST', '/offline', { authorization: 's3cret' })).status).toBe(401);
    expect((await request(port, 'POST', '/weight?interface=x&address=1.2.3.4:5&weight=1')).status).toBe(401);
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(1);
    expect((await request(port, 'GET', '/ls')).status).toBe(200);
    expect((await request(port, 'POST', '/offline', { authorization: 'Bearer s3cret' })).status).toBe(200);
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(0);
  });

  it('refuses a POST from another origin and a Host that is no loopback name', async () => {
    const { port, namespace } = await provider();
    const cross = await request(port, 'POST', '/offline', { origin: 'http://evil.example' });
    expect(cross).toMatchObject({ status: 403, json: { code: 'PLEXUS_ERR_QOS_FORBIDDEN' } });
    expect((await request(port, 'POST', '/offline', { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    const rebound = await request(port, 'GET', '/ls', { host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(1);
    expect((await request(port, 'POST', '/offline', { origin: `http://127.0.0.1:${port}` })).status).toBe(200);
  });
});

describe('qos limits', () => {
  it('a body over maxBodySize is 413; headers over maxHeaderSize are 431', async () => {
    const { port, namespace } = await provider({}, { maxBodySize: 16, maxHeaderSize: 2048 });
    const big = await request(port, 'POST', '/offline', { 'content-type': 'text/plain' }, 'x'.repeat(17));
    expect(big).toMatchObject({ status: 413, json: { code: 'PLEXUS_ERR_QOS_BODY_TOO_LARGE' } });
    expect(MemoryRegistry.providers(namespace, IFACE)).toHaveLength(1);
    const small = await request(port, 'POST', '/offline', { 'content-type': 'text/plain' }, 'x'.repeat(16));
    expect(small.status).toBe(200);
    const huge = await request(port, 'GET', '/ls', { 'x-filler': 'y'.repeat(4096) });
    expect(huge.status).toBe(431);
  });

  it('a chunked body past maxBodySize is refused before it is all read', async () => {
    const { port } = await provider({}, { maxBodySize: 64 });
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/online', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.write('z'.repeat(100));
      // The rest never comes: the answer must not wait for it.
    });
    expect(status).toBe(413);
  });

  it('headers that do not arrive within headersTimeout end the connection', async () => {
    const { port } = await provider({}, { headersTimeout: 300, requestTimeout: 600 });
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      const timer = setTimeout(() => socket.destroy(), 5000);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    expect(Date.now() - started).toBeLessThan(4000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('connections past maxConnections are closed at once; the others are served', async () => {
    const { port } = await provider({}, { maxConnections: 2 });
    const held = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
    await Promise.all(held.map((s) => new Promise((r) => s.once('connect', r))));
    await new Promise((r) => setTimeout(r, 100));
    const extra = net.connect(port, '127.0.0.1');
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      extra.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      extra.on('error', () => undefined);
    });
    expect(closed).toBe(true);
    held.forEach((s) => s.destroy());
    await new Promise((r) => setTimeout(r, 100));
    expect((await request(port, 'GET', '/live')).status).toBe(200);
  });
});

describe('qos lifecycle', () => {
  it('a port in use is a coded start error naming qos.port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const app = Plexus.create({ logLevel: 'silent', application: { name: 'qos-taken', handleSignals: false }, registry: 'none', qos: { port: taken } });
      app.use(qosPlugin);
      apps.push(app);
      const err = await app.start().catch((e: unknown) => e);
      expect(PlexusError.is(err, 'PLEXUS_ERR_QOS_PORT_IN_USE')).toBe(true);
      expect((err as Error).message).toContain('qos.port');
      expect((err as Error).message).toContain(String(taken));
    } finally {
      blocker.close();
    }
  });

  it('/ready is 503 while stopping (the server answers until the stop ends), then the server closes', async () => {
    const { app, port } = await provider({}, {});
    const client = Plexus.create({ logLevel: 'silent', application: { name: 'qos-client', handleSignals: false }, registry: 'none' });
    apps.push(client);
    await client.start();
    const url = app.exportedUrls().find((u) => u.path === IFACE)!.toString();
    const greeter = client.refer<{ slow(ms: number): Promise<string> }>({ interface: IFACE, version: '1.0.0', url, timeout: 5000 });
    const inFlight = greeter.slow(800);
    await new Promise((r) => setTimeout(r, 100));
    const stopping = app.stop();
    const during = await request(port, 'GET', '/ready');
    const live = await request(port, 'GET', '/live');
    await stopping;
    await expect(inFlight).resolves.toBe('slept 800');
    expect({ ready: during.status, live: live.status }).toEqual({ ready: 503, live: 200 });
    await expect(request(port, 'GET', '/live')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('listens on 127.0.0.1 by default (source: default); PLEXUS_QOS_TOKEN sets the token', async () => {
    process.env.PLEXUS_QOS_TOKEN = 'from-env';
    let started;
    try {
      started = await provider();
    } finally {
      delete process.env.PLEXUS_QOS_TOKEN;
    }
    const { app, port, admin } = started;
    expect(admin.address()).toEqual({ host: '127.0.0.1', port });
    expect(app.config.sources['qos.host']).toBe('default');
    expect(app.config.sources['qos.token']).toBe('env');
    expect((await request(port, 'POST', '/offline')).status).toBe(401);
    expect((await request(port, 'POST', '/offline', { authorization: 'Bearer from-env' })).status).toBe(200);
    const head = await request(port, 'HEAD', '/ready');
    expect({ status: head.status, text: head.text }).toEqual({ status: 503, text: '' });
  });

  it('is off without qos:, and qos options are checked', async () => {
    const bad = Plexus.create({ logLevel: 'silent', application: { name: 'qos-bad', handleSignals: false }, registry: 'none', qos: { port: 0 }, extensions: { qos: { http: { maxConnection: 3 } } } });
    bad.use(qosPlugin);
    apps.push(bad);
    const err = await bad.start().catch((e: unknown) => e);
    expect(PlexusError.is(err)).toBe(true);
    expect((err as Error).message).toMatch(/maxConnection/);
    expect(() => Plexus.create({ qos: { port: 'x' } as never })).toThrow(/qos\.port/);
    const none = Plexus.create({ logLevel: 'silent', application: { name: 'qos-none', handleSignals: false }, registry: 'none' });
    apps.push(none);
    await none.start();
    expect(none.container.resolve<Admin>(ADMIN).address()).toBeUndefined();
  });
});

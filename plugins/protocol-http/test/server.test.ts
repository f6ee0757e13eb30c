/**
 * The http protocol's server over real sockets on 127.0.0.1: every status it answers, with the
 * coded JSON error body `{ code, reason, message }`, and the headers it reads.
 */
import * as http from 'node:http';
import { Plexus } from '@plexus/kernel';
import { post, provider, request, sleep, stopApps } from './support';

afterEach(stopApps);

const acc = {
  add: (a: number, b: number) => a + b,
  ctx: () => ({ attachments: { ...Plexus.context().attachments } }),
  boom: () => {
    throw Object.assign(new Error('out of stock'), { code: 'E42' });
  },
  odd: () => {
    throw new (require('@plexus/kernel/spi').RpcError)('odd data', 'SERVICE_ERROR', { data: { big: 1n } });
  },
  slow: async (ms: number) => {
    await sleep(ms);
    return 'late';
  },
  tagged: (v: string) => {
    Plexus.context().responseAttachments.region = 'eu west';
    Plexus.context().responseAttachments['bad key'] = 'dropped';
    return v;
  },
  produced: 0,
  async *ticks() {
    for (let i = 0; ; i++) {
      acc.produced++;
      yield i;
      await sleep(5);
    }
  },
};

describe('http server: calls', () => {
  it('answers POST /<interface>/<method> with the JSON result, and $echo', async () => {
    const { port } = await provider('acc.Echo', acc);
    const r = await post(port, '/acc.Echo/add', '[40,2]');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.text).toBe('42');
    expect((await post(port, '/acc.Echo/$echo', '[{"a":[1,2]}]')).json).toEqual({ a: [1, 2] });
    // an empty body is no arguments; a JSON content type with parameters is fine
    expect((await post(port, '/acc.Echo/add', '', { 'content-type': 'application/json; charset=utf-8' })).json).toBeNull();
  });

  it('sends the response attachments the method set as plexus-attachment-* headers (keys HTTP cannot carry left out)', async () => {
    const { port } = await provider('acc.Echo', acc);
    const r = await post(port, '/acc.Echo/tagged', '["v"]');
    expect(r.status).toBe(200);
    expect(r.json).toBe('v');
    expect(r.headers['plexus-attachment-region']).toBe('eu%20west');
    expect(Object.keys(r.headers).filter((h) => h.startsWith('plexus-attachment-'))).toEqual(['plexus-attachment-region']);
  });

  it('refuses a streamed answer with 501 PLEXUS_ERR_HTTP_STREAMING; the generator never runs', async () => {
    const { port } = await provider('acc.Echo', acc);
    const r = await post(port, '/acc.Echo/ticks', '[]');
    expect(r.status).toBe(501);
    expect(r.json).toMatchObject({ code: 'BAD_REQUEST', reason: 'PLEXUS_ERR_HTTP_STREAMING' });
    expect(r.json.message).toContain('acc.Echo.ticks');
    await sleep(30);
    expect(acc.produced).toBe(0);
  });

  it('reads version, group and attachments from headers', async () => {
    const { port } = await provider('acc.Echo', acc, { version: '2.0.0', group: 'g1' });
    const missing = await post(port, '/acc.Echo/ctx', '[]');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: 'SERVICE_NOT_FOUND', reason: 'PLEXUS_ERR_HTTP_SERVICE_NOT_FOUND' });
    expect(missing.json.message).toContain('g1/acc.Echo:2.0.0');
    const r = await post(port, '/acc.Echo/ctx', '[]', {
      'plexus-version': '2.0.0',
      'plexus-group': 'g1',
      'plexus-attachment-tenant': 'blue',
      'Plexus-Attachment-Note': encodeURIComponent('é & ü'),
    });
    expect(r.status).toBe(200);
    expect(r.json.attachments).toMatchObject({ tenant: 'blue', note: 'é & ü' });
  });

  it('GET / lists services and methods', async () => {
    const { port } = await provider('acc.Echo', acc, { version: '1.0.0' });
    const r = await request(port, 'GET', '/');
    expect(r.status).toBe(200);
    expect(r.json.services).toEqual([{ interface: 'acc.Echo', version: '1.0.0', group: '', methods: expect.arrayContaining(['add', 'ctx', 'boom', 'slow', '$echo']) }]);
  });

  it('keeps the connection alive between calls', async () => {
    const { port } = await provider('acc.Echo', acc);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const localPorts: number[] = [];
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/acc.Echo/add', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          localPorts.push(req.socket!.localPort!);
          seen.push(`${res.statusCode} ${res.headers.connection}`);
          res.resume();
        });
        // The next call waits until the agent has its socket back ('free'): sent right at the end of
        // the answer, it could find none free yet and open another, which says nothing of the server.
        // A socket the server closed is never given back: then the call is over when it closes.
        req.on('socket', (socket) => {
          socket.once('free', () => resolve());
          socket.once('close', () => resolve());
        });
        req.on('error', reject);
        req.end('[1,2]');
      });
    }
    agent.destroy();
    // Status and connection header of each answer, so a failure says who closed.
    expect(seen).toEqual(['200 keep-alive', '200 keep-alive', '200 keep-alive']);
    expect(new Set(localPorts).size).toBe(1);
  });
});

describe('http server: statuses', () => {
  it('400 for a body that is not an array, bad JSON (saying where), a bad plexus-timeout', async () => {
    const { port } = await provider('acc.Echo', acc);
    const notArray = await post(port, '/acc.Echo/add', '{"a":1}');
    expect(notArray.status).toBe(400);
    expect(notArray.json).toMatchObject({ code: 'BAD_REQUEST', reason: 'PLEXUS_ERR_HTTP_BAD_BODY' });
    const bad = await post(port, '/acc.Echo/add', '[40,,2]');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'BAD_REQUEST', reason: 'PLEXUS_ERR_HTTP_BAD_JSON' });
    expect(bad.json.message).toContain("line 1, column 5 (offset 4)");
    const multi = await post(port, "/acc.Echo/add", "[1,\n 2,\n }");
    expect(multi.json.message).toContain("line 3, column 2");
    expect((await post(port, "/acc.Echo/add", "[1,2")).json.message).toContain("ends too early");
    const t = await post(port, '/acc.Echo/add', '[1,2]', { 'plexus-timeout': 'soon' });
    expect(t.status).toBe(400);
    expect(t.json).toMatchObject({ reason: 'PLEXUS_ERR_HTTP_BAD_HEADER' });
  });

  it('400 past the json serializer decode limits (bounded decoding)', async () => {
    const { port } = await provider('acc.Echo', acc, {}, {}, { extensions: { serializer: { json: { maxElements: 10 } } } });
    const r = await post(port, '/acc.Echo/$echo', JSON.stringify([Array.from({ length: 50 }, (_, i) => i)]));
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'SERIALIZATION', reason: 'PLEXUS_ERR_SERIALIZER_LIMIT' });
  });

  it('404 for an unknown service (listing those exported), an unknown method (listing the declared ones), a path that is no call', async () => {
    const { port } = await provider('acc.Echo', acc);
    const s = await post(port, '/acc.Nope/add', '[]');
    expect(s.status).toBe(404);
    expect(s.json).toMatchObject({ code: 'SERVICE_NOT_FOUND', reason: 'PLEXUS_ERR_HTTP_SERVICE_NOT_FOUND' });
    expect(s.json.message).toContain('exported: acc.Echo');
    for (const name of ['nope', 'constructor', '__proto__', 'toString']) {
      const m = await post(port, `/acc.Echo/${name}`, '[]');
      expect(m.status).toBe(404);
      expect(m.json).toMatchObject({ code: 'METHOD_NOT_FOUND', reason: 'PLEXUS_ERR_SERVICE_METHOD_NOT_FOUND' });
      expect(m.json.message).toContain('Declared: add');
    }
    const route = await post(port, '/a/b/c', '[]');
    expect(route.status).toBe(404);
    expect(route.json).toMatchObject({ reason: 'PLEXUS_ERR_HTTP_ROUTE' });
  });

  it('405 for GET on a call path, 415 for a non-JSON content type', async () => {
    const { port } = await provider('acc.Echo', acc);
    const g = await request(port, 'GET', '/acc.Echo/add');
    expect(g.status).toBe(405);
    expect(g.headers.allow).toBe('POST');
    expect(g.json).toMatchObject({ reason: 'PLEXUS_ERR_HTTP_METHOD_NOT_ALLOWED' });
    const form = await post(port, '/acc.Echo/add', '[40,2]', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.json).toMatchObject({ reason: 'PLEXUS_ERR_HTTP_MEDIA_TYPE' });
  });

  it('500 for a business error, with its message and data', async () => {
    const { port } = await provider('acc.Echo', acc);
    const r = await post(port, '/acc.Echo/boom', '[]');
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ code: 'SERVICE_ERROR', message: 'out of stock', data: { code: 'E42' } });
    expect(r.json).not.toHaveProperty('stack');
    // error data JSON cannot hold: the code and the message still get through, the server lives on
    const odd = await post(port, '/acc.Echo/odd', '[]');
    expect(odd.status).toBe(500);
    expect(odd.json).toEqual({ code: 'SERVICE_ERROR', reason: null, message: 'odd data' });
    expect((await post(port, '/acc.Echo/add', '[1,2]')).json).toBe(3);
  });

  it("504 when the provider's timeout or the caller's plexus-timeout passes first", async () => {
    const { port } = await provider('acc.Echo', acc, { methods: { slow: { timeout: 100 } } });
    const own = await post(port, '/acc.Echo/slow', '[1000]');
    expect(own.status).toBe(504);
    expect(own.json).toMatchObject({ code: 'SERVER_TIMEOUT' });
    const started = Date.now();
    const theirs = await post(port, '/acc.Echo/slow', '[60]', { 'plexus-timeout': '30' });
    expect(theirs.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await post(port, '/acc.Echo/slow', '[10]', { 'plexus-timeout': '2000' })).json).toBe('late');
  });

  it('429 when a rate limit refuses, 403 when a token is missing', async () => {
    const { port } = await provider('acc.Echo', acc, { tps: { rate: 1, burst: 1 } });
    expect((await post(port, '/acc.Echo/add', '[1,1]')).status).toBe(200);
    const limited = await post(port, '/acc.Echo/add', '[1,1]');
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    const guarded = await provider('acc.Guarded', acc, { token: 'secret' });
    const forbidden = await post(guarded.port, '/acc.Guarded/add', '[1,1]');
    expect(forbidden.status).toBe(403);
    expect(forbidden.json).toMatchObject({ code: 'FORBIDDEN' });
    expect((await post(guarded.port, '/acc.Guarded/add', '[1,1]', { 'plexus-attachment-token': 'secret' })).json).toBe(2);
  });

  it('503 SHUTTING_DOWN for new calls while the app stops, and the call in flight still gets its answer', async () => {
    const { app, port } = await provider('acc.Echo', acc);
    const inFlight = post(port, '/acc.Echo/slow', '[400]');
    await sleep(50);
    const stopping = app.stop();
    await sleep(50);
    const refused = await post(port, '/acc.Echo/add', '[1,2]');
    expect(refused.status).toBe(503);
    expect(refused.json).toMatchObject({ code: 'SHUTTING_DOWN', reason: 'PLEXUS_ERR_HTTP_SHUTTING_DOWN' });
    expect(refused.headers.connection).toBe('close');
    const answered = await inFlight;
    expect(answered.json).toBe('late');
    await stopping;
  });
});

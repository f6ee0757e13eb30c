/**
 * DESIGN §12 limits of the http server over real sockets on 127.0.0.1: body size (declared and
 * streamed), head size, slow heads and bodies, connection cap, attachments, and a client that
 * never reads its responses.
 */
import * as net from 'node:net';
import { post, provider, sleep, stopApps } from './support';

afterEach(stopApps);

const svc = {
  big: (n: number) => 'x'.repeat(n),
  count: 0,
  echo: (v: unknown) => v,
};

/** Opens a raw connection, writes `bytes`, collects what comes back until the server closes it (bounded). */
function raw(port: number, bytes: string | Buffer, waitMs: number, read = true): Promise<{ closed: boolean; text: string; afterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ closed, text, afterMs: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    if (read) socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    else socket.pause();
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(bytes);
  });
}

describe('http server limits', () => {
  it('413 for a declared content-length over payload, before the body is read, and the connection closes', async () => {
    const { port } = await provider('lim.Svc', svc, {}, { payload: 4096 });
    const r = await raw(port, 'POST /lim.Svc/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[', 3000);
    expect(r.text).toMatch(/^HTTP\/1\.1 413/);
    expect(r.text).toContain('PLEXUS_ERR_HTTP_PAYLOAD_TOO_LARGE');
    expect(r.closed).toBe(true);
  });

  it('413 for a chunked body that grows past payload', async () => {
    const { port } = await provider('lim.Svc', svc, {}, { payload: 4096 });
    const chunk = `[${'1,'.repeat(2500)}1]`;
    const body = `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    const r = await raw(port, `POST /lim.Svc/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${body}`, 3000);
    expect(r.text).toMatch(/^HTTP\/1\.1 413/);
    // just under the limit passes
    const ok = await post(port, '/lim.Svc/echo', JSON.stringify(['y'.repeat(3000)]));
    expect(ok.status).toBe(200);
  });

  it('431 for a head over maxHeaderSize', async () => {
    const { port } = await provider('lim.Svc', svc, {}, { maxHeaderSize: 2048 });
    const r = await raw(port, `POST /lim.Svc/echo HTTP/1.1\r\nhost: x\r\nx-pad: ${'p'.repeat(4000)}\r\ncontent-length: 2\r\n\r\n[]`, 3000);
    expect(r.text).toMatch(/^HTTP\/1\.1 431/);
    expect(r.closed).toBe(true);
  });

  it('closes a connection whose head does not complete within headersTimeout, and one whose body does not within requestTimeout', async () => {
    const { port } = await provider('lim.Svc', svc, {}, { headersTimeout: 300, requestTimeout: 600 });
    const head = await raw(port, 'POST /lim.Svc/echo HTTP/1.1\r\nhost: x\r\n', 5000);
    expect(head.closed).toBe(true);
    expect(head.afterMs).toBeLessThan(2000);
    const body = await raw(port, 'POST /lim.Svc/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n[1,', 5000);
    expect(body.closed).toBe(true);
    expect(body.text).toMatch(/^HTTP\/1\.1 408/);
    expect(body.afterMs).toBeLessThan(3000);
  });

  it('closes idle keep-alive connections after keepAliveTimeout', async () => {
    const { port } = await provider('lim.Svc', svc, {}, { keepAliveTimeout: 200 });
    const r = await raw(port, 'POST /lim.Svc/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\n[1]', 5000);
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    expect(r.closed).toBe(true);
    expect(r.afterMs).toBeLessThan(2000);
  });

  it('refuses connections past maxConnections and keeps serving the ones it holds', async () => {
    const { port } = await provider('lim.Svc', svc, {}, { maxConnections: 2 });
    const held = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
    await Promise.all(held.map((s) => new Promise((r) => s.once('connect', r))));
    await sleep(50);
    const third = await raw(port, 'POST /lim.Svc/echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n[1]', 3000);
    expect(third.closed).toBe(true);
    expect(third.text).toBe('');
    for (const s of held) s.destroy();
    await sleep(100);
    expect((await post(port, '/lim.Svc/echo', '[7]')).json).toBe(7);
  });

  it('400 past maxAttachments', async () => {
    const { port } = await provider('lim.Svc', svc, {}, { maxAttachments: 2 });
    const headers = { 'plexus-attachment-a': '1', 'plexus-attachment-b': '2', 'plexus-attachment-c': '3' };
    const r = await post(port, '/lim.Svc/echo', '[1]', headers);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'BAD_REQUEST', reason: 'PLEXUS_ERR_HTTP_BAD_HEADER' });
    expect((await post(port, '/lim.Svc/echo', '[1]', { 'plexus-attachment-a': '1' })).status).toBe(200);
  });

  it('a client that pipelines calls for large answers and never reads: calls wait behind the unread answer, and the connection is dropped after writeTimeout', async () => {
    let calls = 0;
    const { port } = await provider('lim.Big', { big: (n: number) => (calls++, 'x'.repeat(n)) }, {}, { writeTimeout: 400 });
    const one = 'POST /lim.Big/big HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n[4000000]';
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    await new Promise((r) => socket.once('connect', r));
    socket.write(one.repeat(50));
    // past writeTimeout (400 ms) and a sweep or two
    await sleep(1500);
    // one call ran (two or three when the loopback's socket buffers swallowed whole answers): the
    // others wait behind an unread answer instead of filling memory
    const ran = calls;
    expect(ran).toBeLessThanOrEqual(3);
    // reading now shows the server gave up on the connection: it ends before a second answer
    let received = 0;
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      socket.on('data', (d: Buffer) => (received += d.length));
      socket.on('close', () => (clearTimeout(timer), resolve(true)));
      socket.on('error', () => undefined);
      socket.resume();
    });
    socket.destroy();
    expect(closed).toBe(true);
    expect(received).toBeLessThan(ran * 4_000_200);
    expect(calls).toBe(ran);
    // and the server keeps serving everyone else
    expect((await post(port, '/lim.Big/big', '[3]')).json).toBe('xxx');
  }, 20_000);
});

/**
 * The effect of the options not covered by the status and limit tests: `sendStack`, `serializer`
 * (json only), and the consumer's `maxSockets` and `connectTimeout`.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { RpcCode } from '@plexus/kernel/spi';
import { app, post, provider, sleep, stopApps } from './support';

afterEach(stopApps);

const impl = {
  boom: () => {
    throw new Error('kaput');
  },
  slow: async (ms: number) => {
    await sleep(ms);
    return ms;
  },
};

describe('http protocol options', () => {
  it('sendStack: true puts the stack in error bodies (off by default)', async () => {
    const off = await provider('opt.Off', impl);
    expect((await post(off.port, '/opt.Off/boom', '[]')).json).not.toHaveProperty('stack');
    const on = await provider('opt.On', impl, {}, { sendStack: true });
    expect((await post(on.port, '/opt.On/boom', '[]')).json.stack).toContain('kaput');
  });

  it('serializer other than json fails start', async () => {
    const p = app('bad-serializer', { protocols: [{ name: 'http', host: '127.0.0.1', port: 0, serializer: 'msgpack' }] });
    p.provide({ interface: 'opt.S' }, impl);
    await expect(p.start()).rejects.toThrow(/serializer/);
  });

  it('maxSockets bounds the sockets a consumer opens to one provider', async () => {
    const { port } = await provider('opt.Slow', impl);
    // The most sockets open at once, through a counting proxy in front of the provider: maxSockets
    // bounds sockets at the same time (a socket the server closed may be replaced by a new one).
    let current = 0;
    let connections = 0;
    const open: net.Socket[] = [];
    const proxy = net.createServer((client) => {
      current++;
      connections = Math.max(connections, current);
      client.once('close', () => current--);
      open.push(client);
      const upstream = net.connect(port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const proxyPort = (proxy.address() as net.AddressInfo).port;
      const c = app('two-sockets', {
        protocols: [{ name: 'http', maxSockets: 2 }],
        references: { slow: { interface: 'opt.Slow', url: `http://127.0.0.1:${proxyPort}`, retries: 0, timeout: 5000, check: false } },
      });
      await c.start();
      const slow = c.reference<{ slow(ms: number): Promise<number> }>('slow');
      const results = await Promise.all(Array.from({ length: 6 }, () => slow.slow(100)));
      expect(results).toEqual([100, 100, 100, 100, 100, 100]);
      expect(connections).toBe(2);
    } finally {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it('connectTimeout fails a connect that hangs, as a retryable PLEXUS_ERR_HTTP_CONNECT', async () => {
    // A listener whose backlog is full: the kernel drops further SYNs, so a connect hangs.
    const py = spawn('python3', [
      '-c',
      'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(30)',
    ]);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('python3 listener did not start in 5 s')), 5000);
        py.stdout.once('data', (d: Buffer) => (clearTimeout(timer), resolve(Number(d.toString().trim()))));
        py.once('error', (err) => (clearTimeout(timer), reject(new Error(`python3 is needed for this test: ${err.message}`))));
      });
      // fill the backlog with connections nobody accepts
      const fillers: net.Socket[] = [];
      for (let i = 0; i < 4; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        fillers.push(s);
      }
      await sleep(200);
      const c = app('connect-timeout', {
        protocols: [{ name: 'http', connectTimeout: 300 }],
        references: { slow: { interface: 'opt.Slow', url: `http://127.0.0.1:${port}`, retries: 0, timeout: 5000, check: false } },
      });
      await c.start();
      const started = Date.now();
      await expect(c.reference<{ slow(ms: number): Promise<number> }>('slow').slow(1)).rejects.toMatchObject({
        code: RpcCode.NETWORK,
        reason: 'PLEXUS_ERR_HTTP_CONNECT',
        retryable: true,
      });
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(2000);
      for (const s of fillers) s.destroy();
    } finally {
      if (py.pid !== undefined && py.exitCode === null) process.kill(py.pid, 'SIGKILL');
    }
  });
});

/**
 * The http protocol end to end on 127.0.0.1: curl (a real outside client) gets 42 from
 * `POST /acc.Echo/add` with `[40,2]`, and one provider serves `plexus` and `http` at once while a
 * consumer calls each; a service that picks `protocol: [http]` is not on the plexus port.
 */
import { execFile } from 'node:child_process';
import { Plexus } from '@plexus/kernel';
import { RpcCode } from '@plexus/kernel/spi';

interface Echo {
  add(a: number, b: number): Promise<number>;
}

const apps: Plexus[] = [];
afterEach(async () => {
  for (const a of apps.splice(0).reverse()) await a.stop();
});

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('curl is not installed: this e2e needs it (apt-get install -y curl)'));
        return;
      }
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function provider(): Promise<{ plexusPort: number; httpPort: number }> {
  const p = Plexus.create({
    logLevel: 'silent',
    application: { name: 'two-protocols' },
    registry: 'none',
    protocols: [
      { name: 'plexus', host: '127.0.0.1', port: 0 },
      { name: 'http', host: '127.0.0.1', port: 0 },
    ],
  });
  apps.push(p);
  p.provide({ interface: 'acc.Echo' }, { add: (a: number, b: number) => a + b });
  p.provide({ interface: 'acc.HttpOnly', protocol: ['http'] } as never, { add: (a: number, b: number) => a * b });
  await p.start();
  const port = (proto: string) => p.exportedUrls().find((u) => u.protocol === proto && u.path === 'acc.Echo')!.port;
  return { plexusPort: port('plexus'), httpPort: port('http') };
}

describe('http protocol e2e', () => {
  it('curl gets 42 from POST /acc.Echo/add with [40,2], and a coded 404 for an unknown method', async () => {
    const { httpPort } = await provider();
    const ok = await curl(['-sS', '-H', 'content-type: application/json', '-d', '[40,2]', `http://127.0.0.1:${httpPort}/acc.Echo/add`]);
    expect(ok).toMatchObject({ code: 0, stdout: '42' });
    const missing = await curl(['-sS', '-o', '-', '-w', '\n%{http_code}', '-H', 'content-type: application/json', '-d', '[]', `http://127.0.0.1:${httpPort}/acc.Echo/sub`]);
    const [body, status] = missing.stdout.split('\n');
    expect(status).toBe('404');
    expect(JSON.parse(body)).toMatchObject({ code: 'METHOD_NOT_FOUND', reason: 'PLEXUS_ERR_SERVICE_METHOD_NOT_FOUND' });
    const list = await curl(['-sS', `http://127.0.0.1:${httpPort}/`]);
    expect(JSON.parse(list.stdout).services.map((s: { interface: string }) => s.interface).sort()).toEqual(['acc.Echo', 'acc.HttpOnly']);
  });

  it('one provider serves plexus and http at once; a consumer calls each; protocol: [http] is http only', async () => {
    const { plexusPort, httpPort } = await provider();
    const c = Plexus.create({
      logLevel: 'silent',
      application: { name: 'two-protocol-consumer' },
      registry: 'none',
      references: {
        overPlexus: { interface: 'acc.Echo', url: `plexus://127.0.0.1:${plexusPort}`, retries: 0 },
        overHttp: { interface: 'acc.Echo', url: `http://127.0.0.1:${httpPort}`, retries: 0 },
        onlyHttp: { interface: 'acc.HttpOnly', url: `http://127.0.0.1:${httpPort}`, retries: 0 },
        onlyHttpOverPlexus: { interface: 'acc.HttpOnly', url: `plexus://127.0.0.1:${plexusPort}`, retries: 0, check: false },
      },
    });
    apps.push(c);
    await c.start();
    expect(await c.reference<Echo>('overPlexus').add(40, 2)).toBe(42);
    expect(await c.reference<Echo>('overHttp').add(40, 2)).toBe(42);
    expect(await c.reference<Echo>('onlyHttp').add(6, 7)).toBe(42);
    await expect(c.reference<Echo>('onlyHttpOverPlexus').add(6, 7)).rejects.toMatchObject({ code: RpcCode.SERVICE_NOT_FOUND });
  });
});

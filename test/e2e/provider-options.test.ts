import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Plexus, RpcCode, RpcError } from '@plexus/kernel';
import { FIXTURES, startProvider, type ProviderProcess } from './helpers';

/**
 * Provider-side options end to end, each in a real provider process started from a config file:
 * executors (limited, worker), mutual TLS, and a Unix socket.
 */
const TLS = path.resolve(__dirname, '..', '..', 'plugins', 'transport-tcp', 'test', 'fixtures');
let dir: string;
const providers: ProviderProcess[] = [];
const apps: Plexus[] = [];

function writeConfig(name: string, yaml: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, yaml);
  return file;
}

function consumer(config: Parameters<typeof Plexus.create>[0]): Plexus {
  const app = Plexus.create(config);
  apps.push(app);
  return app;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-e2e-'));
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  for (const p of providers) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('executors', () => {
  let port: number;
  beforeAll(async () => {
    const config = writeConfig(
      'executors.yaml',
      `application: { name: e2e-executors }
protocol: { name: plexus, host: 127.0.0.1, port: 0 }
services:
  - interface: e2e.Limited
    implementation: ${path.join(FIXTURES, 'kitchen-sink.js')}
    executor: limited
    threads: 2
  - interface: e2e.Cpu
    implementation: ${path.join(FIXTURES, 'cpu.js')}
    executor: worker
    threads: 2
`,
    );
    const p = await startProvider(config);
    providers.push(p);
    port = p.port;
  });

  it('limited: calls beyond its threads are refused with the retryable EXECUTOR_EXHAUSTED', async () => {
    const app = consumer({ references: { limited: { interface: 'e2e.Limited', url: `plexus://127.0.0.1:${port}`, retries: 0, timeout: 5000 } } });
    const ref = app.reference<{ sleep(ms: number): number }>('limited');
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => ref.sleep(300).then(() => 'ok', (e: RpcError) => e)));
    const ok = outcomes.filter((o) => o === 'ok').length;
    const refused = outcomes.filter((o): o is RpcError => RpcError.is(o));
    expect(ok).toBe(2);
    expect(refused).toHaveLength(6);
    for (const e of refused) {
      expect(e.code).toBe(RpcCode.EXECUTOR_EXHAUSTED);
      expect(e.retryable).toBe(true);
    }
    await expect(ref.sleep(1)).resolves.toBe(1);
  });

  it('worker: runs CPU-bound methods on worker threads and passes their errors back', async () => {
    const app = consumer({ references: { cpu: { interface: 'e2e.Cpu', url: `plexus://127.0.0.1:${port}`, timeout: 10_000 } } });
    const ref = app.reference<{ fib(n: number): number; threadId(): number; fail(): never }>('cpu');
    const results = await Promise.all([ref.fib(20), ref.fib(21), ref.fib(22)]);
    expect(results).toEqual([6765, 10946, 17711]);
    expect(await ref.threadId()).toBeGreaterThan(0);
    const err = (await ref.fail().catch((e) => e)) as RpcError;
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
    expect(err.message).toBe('worker says no');
  });
});

describe('mutual TLS', () => {
  let port: number;
  beforeAll(async () => {
    const config = writeConfig(
      'tls.yaml',
      `application: { name: e2e-tls }
protocol:
  name: plexus
  host: 127.0.0.1
  port: 0
  tls: { key: ${path.join(TLS, 'server-key.pem')}, cert: ${path.join(TLS, 'server-cert.pem')}, ca: ${path.join(TLS, 'ca-cert.pem')}, requestCert: true }
services:
  - interface: e2e.KitchenSink
    implementation: ${path.join(FIXTURES, 'kitchen-sink.js')}
`,
    );
    const p = await startProvider(config);
    providers.push(p);
    port = p.port;
  });

  it('serves a consumer with a certificate from the CA', async () => {
    const app = consumer({
      protocols: [{ name: 'plexus', tls: { key: path.join(TLS, 'client-key.pem'), cert: path.join(TLS, 'client-cert.pem'), ca: path.join(TLS, 'ca-cert.pem') } }],
      references: { sink: { interface: 'e2e.KitchenSink', url: `plexus://127.0.0.1:${port}`, timeout: 5000 } },
    });
    await expect(app.reference<{ echo(v: string): string }>('sink').echo('over tls')).resolves.toBe('over tls');
  });

  it('refuses a consumer without a client certificate', async () => {
    const app = consumer({
      protocols: [{ name: 'plexus', tls: { ca: path.join(TLS, 'ca-cert.pem') } }],
      references: { sink: { interface: 'e2e.KitchenSink', url: `plexus://127.0.0.1:${port}`, timeout: 3000, retries: 0 } },
    });
    const err = (await app.reference<{ echo(v: string): string }>('sink').echo('x').catch((e) => e)) as RpcError;
    expect(RpcError.is(err)).toBe(true);
    expect([RpcCode.NETWORK, RpcCode.TIMEOUT]).toContain(err.code);
  });

  it('refuses a plain-text consumer', async () => {
    const app = consumer({ references: { sink: { interface: 'e2e.KitchenSink', url: `plexus://127.0.0.1:${port}`, timeout: 2000, retries: 0 } } });
    const err = (await app.reference<{ echo(v: string): string }>('sink').echo('x').catch((e) => e)) as RpcError;
    expect(RpcError.is(err)).toBe(true);
    expect([RpcCode.NETWORK, RpcCode.TIMEOUT]).toContain(err.code);
  });
});

describe('Unix socket', () => {
  it('serves over a socket path', async () => {
    const sock = path.join(dir, 'plexus.sock');
    const config = writeConfig(
      'unix.yaml',
      `application: { name: e2e-unix }
protocol: { name: plexus, path: ${sock} }
services:
  - interface: e2e.KitchenSink
    implementation: ${path.join(FIXTURES, 'kitchen-sink.js')}
`,
    );
    providers.push(await startProvider(config));
    const app = consumer({ references: { sink: { interface: 'e2e.KitchenSink', url: `plexus://localhost?path=${encodeURIComponent(sock)}`, timeout: 5000 } } });
    await expect(app.reference<{ echo(v: number[]): number[] }>('sink').echo([1, 2, 3])).resolves.toEqual([1, 2, 3]);
  });
});

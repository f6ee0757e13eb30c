/**
 * A real Prometheus (Debian's 2.42, DESIGN §9) scraping two provider processes that run
 * `filter: [metrics]`, and the consumer in this process, every second on 127.0.0.1. It is asked
 * through its HTTP API (`/api/v1/query?query=plexus_requests_total`) until the counters of both
 * providers and of the consumer arrive with the §11 labels and the counts the calls made.
 *
 * `@plexus/qos`'s `/metrics` is being built in parallel: until it exists, each process serves
 * prom-client's global `register.metrics()` on a tiny node:http server of its own (below), which is
 * what qos will serve. The providers find each other through the `local` registry (a temp folder).
 * If Prometheus cannot be installed or started, the test fails with the reason; it never skips.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Plexus } from '@plexus/kernel';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const prometheus = require('../../scripts/servers/prometheus');

const ROOT = path.resolve(__dirname, '..', '..');
const IFACE = 'e2e.MetricsGreeter';
const KEY = `${IFACE}:1.0.0`;
/** How long Prometheus may take to show what was called: several 1 s scrapes. */
const SCRAPED_WITHIN_MS = 30_000;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-e2e-metrics-'));
const registryDir = path.join(tmp, 'registry');
const children: ChildProcess[] = [];
const servers: http.Server[] = [];
let prom: { query(q: string): Promise<any>; targets(): Promise<any>; stop(): Promise<void>; logFile: string } | undefined;
let consumer: Plexus | undefined;

/** The provider process: its app with filter: [metrics], and /metrics on a port of its own; reports both ports over IPC. */
const PROVIDER = `
'use strict';
const http = require('node:http');
const { Plexus } = require(${JSON.stringify(require.resolve('@plexus/kernel', { paths: [ROOT] }))});
const { register } = require(${JSON.stringify(require.resolve('prom-client', { paths: [path.join(ROOT, 'plugins/filter-metrics')] }))});
(async () => {
  const app = Plexus.create({
    application: { name: 'metrics-e2e-provider' },
    registry: { type: 'local', dir: process.argv[2] },
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    provider: { filter: ['metrics'] },
  });
  app.provide({ interface: ${JSON.stringify(IFACE)}, version: '1.0.0' }, {
    hello: (who) => 'hello ' + who + ' from ' + process.pid,
    fail: () => { throw new Error('business says no'); },
  });
  await app.start();
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': register.contentType }).end(await register.metrics());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = app.exportedUrls().find((u) => u.protocol === 'plexus');
  process.send({ port: url.port, metricsPort: server.address().port });
  process.on('SIGTERM', async () => { server.close(); await app.stop(); process.exit(0); });
})().catch((err) => { console.error(err); process.exit(1); });
`;

function startProvider(script: string): Promise<{ port: number; metricsPort: number; child: ChildProcess }> {
  const child = fork(script, [registryDir], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn' } });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`metrics provider did not start within 20 s: ${err}`)), 20_000);
    child.once('message', (m: { port: number; metricsPort: number }) => {
      clearTimeout(timer);
      resolve({ ...m, child });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`metrics provider exited with ${code} before it started: ${err}`));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

afterAll(async () => {
  await consumer?.stop();
  for (const s of servers) s.close();
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
  await prom?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('a real Prometheus scrapes filter: [metrics]', () => {
  it('shows plexus_requests_total of two providers and their consumer with the §11 labels', async () => {
    const script = path.join(tmp, 'metrics-provider.js');
    fs.writeFileSync(script, PROVIDER);
    const [one, two] = await Promise.all([startProvider(script), startProvider(script)]);

    // The consumer, in this process, with its /metrics served the same way.
    consumer = Plexus.create({
      logLevel: 'warn',
      application: { name: 'metrics-e2e-consumer' },
      registry: { type: 'local', dir: registryDir },
      references: { g: { interface: IFACE, version: '1.0.0', loadbalance: 'roundrobin', retries: 0, timeout: 3000, filter: ['metrics'] } },
    } as never);
    await consumer.start();
    const { register } = await import('prom-client');
    const own = http.createServer(async (req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': register.contentType }).end(await register.metrics());
    });
    servers.push(own);
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', () => r()));
    const consumerMetricsPort = (own.address() as AddressInfo).port;

    const g = consumer.reference<{ hello(who: string): Promise<string>; fail(): Promise<never> }>('g');
    const deadline = Date.now() + 10_000;
    const pids = new Set<string>();
    // Until both providers were seen (the registry lists the second one within a moment).
    while (pids.size < 2) {
      if (Date.now() > deadline) throw new Error(`the consumer reached only ${[...pids].join(', ')} of the two providers within 10 s`);
      pids.add((await g.hello('ada')).split(' from ')[1]);
    }
    for (let i = 0; i < 40; i++) await g.hello('ada');
    for (let i = 0; i < 4; i++) await expect(g.fail()).rejects.toMatchObject({ code: 'SERVICE_ERROR' });

    const targets = [`127.0.0.1:${one.metricsPort}`, `127.0.0.1:${two.metricsPort}`, `127.0.0.1:${consumerMetricsPort}`];
    const port = await freePort();
    try {
      prom = await prometheus.start({ port, dir: path.join(tmp, 'prometheus'), targets, scrapeIntervalMs: 1000 });
    } catch (err) {
      throw new Error(`this test needs a real Prometheus (apt-get install -y prometheus, DESIGN §9) and could not start one: ${(err as Error).message}`);
    }

    // What the processes themselves count, to compare with what Prometheus stored.
    const consumerOk = (await register.getMetricsAsJSON())
      .find((m) => m.name === 'plexus_requests_total')!
      .values.find((v) => v.labels.side === 'consumer' && v.labels.method === 'hello' && v.labels.code === 'OK')!.value;
    expect(consumerOk).toBeGreaterThanOrEqual(42);

    let last: Series[] = [];
    const until = Date.now() + SCRAPED_WITHIN_MS;
    const complete = (series: Series[]) => {
      const provider = series.filter((s) => s.metric.side === 'provider' && s.metric.method === 'hello' && s.metric.code === 'OK');
      const consumerSide = series.find((s) => s.metric.side === 'consumer' && s.metric.method === 'hello' && s.metric.code === 'OK');
      const fails = series.filter((s) => s.metric.side === 'provider' && s.metric.method === 'fail' && s.metric.code === 'SERVICE_ERROR');
      return provider.length === 2 && consumerSide !== undefined && fails.length >= 1;
    };
    while (!complete(last)) {
      if (Date.now() > until) {
        const t = await prom!.targets().catch(() => undefined);
        throw new Error(
          `Prometheus did not show the counters within ${SCRAPED_WITHIN_MS} ms; last answer: ${JSON.stringify(last).slice(0, 2000)}\n` +
            `targets: ${JSON.stringify(t?.data?.activeTargets?.map((a: any) => [a.scrapeUrl, a.health, a.lastError]))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
      const answer = await prom!.query('plexus_requests_total');
      expect(answer.status).toBe('success');
      last = answer.data.result as Series[];
    }

    const providerOk = last.filter((s) => s.metric.side === 'provider' && s.metric.method === 'hello' && s.metric.code === 'OK');
    // Each provider is its own scrape target (instance), with the §11 labels.
    expect(new Set(providerOk.map((s) => s.metric.instance))).toEqual(new Set(targets.slice(0, 2)));
    for (const s of providerOk) {
      expect(s.metric).toMatchObject({ __name__: 'plexus_requests_total', job: 'plexus', side: 'provider', service: KEY, method: 'hello', code: 'OK' });
      expect(Number(s.value[1])).toBeGreaterThanOrEqual(1);
    }
    // Round robin over two: every hello the consumer made was served by one of them.
    expect(providerOk.reduce((n, s) => n + Number(s.value[1]), 0)).toBe(consumerOk);
    const consumerSeries = last.find((s) => s.metric.side === 'consumer' && s.metric.method === 'hello' && s.metric.code === 'OK')!;
    expect(Number(consumerSeries.value[1])).toBe(consumerOk);
    const failed = last.filter((s) => s.metric.side === 'provider' && s.metric.method === 'fail').reduce((n, s) => n + Number(s.value[1]), 0);
    expect(failed).toBe(4);

    // The histogram and the providers gauge made it too, as PromQL sees them.
    const p99 = await prom!.query(`histogram_quantile(0.99, sum by (le) (plexus_request_duration_seconds_bucket{side="consumer",method="hello"}))`);
    expect(p99.status).toBe('success');
    expect(Number(p99.data.result[0].value[1])).toBeGreaterThan(0);
    const providers = await prom!.query(`plexus_providers{service="${KEY}"}`);
    expect(providers.data.result.map((s: Series) => Number(s.value[1]))).toEqual([2]);
  }, 90_000);
});

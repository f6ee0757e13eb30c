/**
 * Issue 12's "Done when" for the admin server and the console, from packed tarballs behind the
 * local registry: two provider processes with `qos:` and a consumer process calling them. POST
 * /offline takes a provider out of the consumer's rotation within seconds and its /ready turns
 * 503; POST /online brings it back. Then Debian's Chromium, headless, loads the console of one
 * provider, shows the service and its provider URL, and a click on "offline" takes it out.
 * Chromium is required: without /usr/bin/chromium this test fails (`node scripts/servers.js install`).
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { packProject, Processes, until, type Consumer } from '../fixtures/registries/harness';

const CHROMIUM = '/usr/bin/chromium';
/** The interface the registry fixtures' consumer calls. */
const IFACE = 'e2e.registry.Who';
const FIXTURE = path.resolve(__dirname, '..', '..', 'plugins', 'qos', 'test', 'fixtures', 'qos-provider.js');

jest.setTimeout(120_000);

interface QosProvider {
  pid: number;
  port: number;
  qosPort: number;
  output(): string;
}

function get(port: number, method: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('qos from packed tarballs, behind the local registry', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-qos-e2e-'));
  const registry = { type: 'local', dir, ttl: 10_000, snapshot: false };
  const pids: number[] = [];
  let project: string;
  let processes: Processes;
  let consumer: Consumer;
  let a: QosProvider;
  let b: QosProvider;
  let browser: Browser | undefined;

  function startProvider(name: string): Promise<QosProvider> {
    const child = fork(path.join(project, 'qos-provider.js'), [JSON.stringify({ registry, iface: IFACE, name, filter: ['metrics', 'tracing'] })], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn' },
    });
    pids.push(child.pid!);
    let out = '';
    const keep = (d: Buffer) => {
      if (out.length < 64 * 1024) out += d.toString();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`provider ${name} did not start within 30 s:\n${out}`)), 30_000);
      child.once('message', (m: { port: number; qosPort: number; pid: number }) => {
        clearTimeout(timer);
        resolve({ ...m, output: () => out });
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`provider ${name} exited (code ${code}, signal ${signal}) before it started:\n${out}`));
      });
    });
  }

  beforeAll(async () => {
    project = packProject('qos');
    fs.copyFileSync(FIXTURE, path.join(project, 'qos-provider.js'));
    processes = new Processes(project);
    [a, b] = await Promise.all([startProvider('qos-e2e-a'), startProvider('qos-e2e-b')]);
    consumer = await processes.consumer(registry, 'qos-e2e-consumer');
    await consumer.waitListed([a.port, b.port], 15_000, 'both providers listed');
  }, 400_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await processes?.killAll();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  it('/metrics shows the per-method counters and histograms of filter: [metrics, tracing]', async () => {
    await consumer.waitCalls(20, 10_000, 'calls before the scrape');
    const res = await get(a.qosPort, 'GET', '/metrics');
    expect(res.status).toBe(200);
    const lines = res.body.split('\n').filter((l) => l.startsWith('plexus_requests_total{'));
    const who = lines.filter((l) => ['side="provider"', `service="${IFACE}:1.0.0"`, 'method="who"', 'code="OK"'].every((label) => l.includes(label)));
    expect({ who, sample: lines.slice(0, 3) }).toEqual({ who: [expect.stringMatching(/\} [1-9]\d*$/)], sample: expect.anything() });
    expect(res.body).toContain('plexus_request_duration_seconds_bucket');
  });

  it('/live and /ready answer; POST /offline takes a provider out of rotation and /ready turns 503; POST /online brings it back', async () => {
    for (const p of [a, b]) {
      expect((await get(p.qosPort, 'GET', '/live')).status).toBe(200);
      expect((await get(p.qosPort, 'GET', '/ready')).status).toBe(200);
    }
    const off = await get(a.qosPort, 'POST', '/offline');
    expect(off.status).toBe(200);
    const offAt = Date.now();
    expect((await get(a.qosPort, 'GET', '/ready')).status).toBe(503);
    await consumer.waitListed([b.port], 5000, 'provider a out of rotation');
    expect(Date.now() - offAt).toBeLessThan(5000);
    await consumer.reset();
    const only = await consumer.waitCalls(20, 5000, 'calls after offline');
    expect(Object.keys(only.byPort)).toEqual([String(b.port)]);
    // Still serving: /live stays 200 and the process is untouched.
    expect((await get(a.qosPort, 'GET', '/live')).status).toBe(200);

    expect((await get(a.qosPort, 'POST', '/online')).status).toBe(200);
    expect((await get(a.qosPort, 'GET', '/ready')).status).toBe(200);
    await consumer.waitListed([a.port, b.port], 5000, 'provider a back in rotation');
    await consumer.reset();
    await until(async () => {
      const s = await consumer.stats();
      return s.byPort[String(a.port)] > 0 && s.byPort[String(b.port)] > 0;
    }, 5000, 'calls reaching both providers again');
  });

  it('headless Chromium shows the service and its provider on the console, and a click on "offline" takes it out', async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the console test needs Debian's Chromium (node scripts/servers.js install, or apt-get install -y chromium)`);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], headless: true, timeout: 30_000 });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The browser logs every non-2xx answer (/ready's 503 is one on purpose): script errors only.
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    await page.goto(`http://127.0.0.1:${a.qosPort}/`, { timeout: 15_000 });
    const row = page.locator(`#services tr[data-service="${IFACE}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await page.locator('#application').textContent()).toBe('qos-e2e-a');
    const text = (await row.textContent()) ?? '';
    expect(text).toContain(IFACE);
    expect(text).toContain(`plexus://127.0.0.1:${a.port}/${IFACE}`);
    expect(text).toContain('online');
    await until(async () => (await page.locator('#ready').textContent()) === 'yes', 5000, 'the console showing ready');
    // Call rates come from two reads of /metrics, 2 s apart: the consumer keeps calling.
    await until(async () => Number((await row.locator('td').nth(5).textContent()) ?? 'NaN') > 0, 8000, 'the console showing calls per second');
    expect(await page.locator('#metrics-note').textContent()).toBe('');

    await row.locator('button[data-action="offline"]').click();
    await until(async () => (await get(a.qosPort, 'GET', '/ready')).status === 503, 5000, '/ready 503 after the click');
    await consumer.waitListed([b.port], 5000, 'the registry entry of a gone after the click');
    await until(async () => ((await page.locator(`#services tr[data-service="${IFACE}"]`).textContent()) ?? '').includes('offline') && (await page.locator('#ready').textContent()) === 'no (503)', 6000, 'the console showing offline');
    expect(errors).toEqual([]);

    await row.locator('button[data-action="online"]').click();
    await until(async () => (await get(a.qosPort, 'GET', '/ready')).status === 200, 5000, '/ready 200 after "online"');
    await consumer.waitListed([a.port, b.port], 5000, 'a back after "online"');
  });
});

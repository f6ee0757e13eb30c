import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Plexus, RpcCode, type RpcError } from '@plexus/kernel';
import { rejectionOf, waitFor } from '@plexus/kernel/testing';
import { startProvider, type ProviderProcess } from './helpers';

/**
 * Circuit breaker, health and mock end to end (issue 10, "Done when"): real provider processes
 * started from config files, whose answer time the test sets over IPC (so a node can be made slow
 * and well again while the consumer keeps it out of rotation), and consumers in this process with
 * `@plexus/filters` loaded from its package. Every provider is killed by PID in afterAll.
 */
let dir: string;
const providers: ProviderProcess[] = [];
const apps: Plexus[] = [];
let logged = '';
const realWrite = process.stderr.write.bind(process.stderr);

/** The implementation: `work()` answers after the delay the parent last sent, with this process's pid. */
const IMPLEMENTATION = `'use strict';
let delay = 0;
process.on('message', (m) => {
  if (m && typeof m.delay === 'number') {
    delay = m.delay;
    process.send({ delay });
  }
});
module.exports = {
  work() {
    return new Promise((resolve) => setTimeout(() => resolve(process.pid), delay));
  },
};
`;

async function provider(extra = ''): Promise<ProviderProcess> {
  const file = path.join(dir, extra ? 'provider-extra.yaml' : 'provider.yaml');
  if (!fs.existsSync(path.join(dir, 'flaky.js'))) fs.writeFileSync(path.join(dir, 'flaky.js'), IMPLEMENTATION);
  fs.writeFileSync(
    file,
    ['application: { name: e2e-governance-provider }', 'protocol: { name: plexus, host: 127.0.0.1, port: 0 }', `provider: { timeout: 5000${extra} }`,
      ...(extra ? ["plugins: ['@plexus/filters']"] : []), 'services:', '  - interface: e2e.gov.Flaky', '    implementation: ./flaky.js', ''].join('\n'),
  );
  const p = await startProvider(file);
  providers.push(p);
  return p;
}

/** Sets a provider's answer time; resolves once the child confirms it (IPC and the RPC socket are not ordered). */
function setDelay(p: ProviderProcess, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider ${p.pid} did not confirm delay ${ms} within 5 s`)), 5000);
    const onMessage = (m: { delay?: number }) => {
      if (m?.delay !== ms) return;
      clearTimeout(timer);
      p.child.off('message', onMessage);
      resolve();
    };
    p.child.on('message', onMessage);
    p.child.send({ delay: ms }, (err) => {
      if (err) {
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

function consumer(reference: Record<string, unknown>): Plexus {
  const app = Plexus.create({
    application: { name: 'e2e-governance-consumer', handleSignals: false },
    logLevel: 'info',
    registry: { type: 'none' },
    plugins: ['@plexus/filters'],
    references: { flaky: { interface: 'e2e.gov.Flaky', check: false, retries: 0, ...reference } },
  } as Parameters<typeof Plexus.create>[0]);
  apps.push(app);
  return app;
}

type Flaky = { work(): Promise<number> };

async function timed(p: Promise<unknown>): Promise<{ ms: number; value?: unknown; error?: RpcError }> {
  const started = Date.now();
  try {
    const value = await p;
    return { ms: Date.now() - started, value };
  } catch (error) {
    return { ms: Date.now() - started, error: error as RpcError };
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-e2e-governance-'));
  // The consumer's warnings (circuit open/closed, node suspended) are read from its log lines.
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logged += chunk.toString();
    return (realWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
});

afterAll(async () => {
  process.stderr.write = realWrite;
  await Promise.all(apps.map((a) => a.stop().catch(() => undefined)));
  for (const p of providers) if (p.child.exitCode === null && p.child.signalCode === null) process.kill(p.pid, 'SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('circuit breaker across processes', () => {
  it('opened by repeated timeouts: the next call fails within milliseconds with a code; after openMs a probe closes it once the node recovered', async () => {
    const node = await provider();
    const app = consumer({
      url: `plexus://127.0.0.1:${node.port}`,
      timeout: 150,
      circuitbreaker: { minCalls: 3, errorRate: 50, openMs: 1000, probes: 1 },
    });
    await app.start();
    const flaky = app.reference<Flaky>('flaky');
    expect(await flaky.work()).toBe(node.pid);

    await setDelay(node, 1000);
    for (let i = 0; i < 2; i++) expect((await rejectionOf(flaky.work())).code).toBe(RpcCode.TIMEOUT);
    // 1 ok + 2 timeouts = 3 calls, 67 % failed: open after the third call
    expect(logged).toContain('circuit open: e2e.gov.Flaky.work on 127.0.0.1:');

    const fast = await timed(flaky.work());
    expect(fast.error).toBeDefined();
    expect(fast.ms).toBeLessThan(50);
    // The only node is out of rotation: the cluster finds no provider (with other nodes, they take the calls).
    expect(fast.error!.code).toBe(RpcCode.NO_PROVIDER);
    expect(fast.error!.retryable).toBe(true);
    // ... and says why: the one listed provider is out of rotation, and who took it out.
    expect(fast.error!.message).toMatch(/1 listed provider is out of rotation: 127\.0\.0\.1:\d+ \(/);

    // Still slow when openMs has passed: the probe times out and the circuit opens again.
    await new Promise((r) => setTimeout(r, 1050));
    expect((await rejectionOf(flaky.work())).code).toBe(RpcCode.TIMEOUT);
    expect((await timed(flaky.work())).ms).toBeLessThan(50);

    // The node recovers; after openMs the probe succeeds and the circuit closes.
    await setDelay(node, 0);
    await new Promise((r) => setTimeout(r, 1050));
    expect(await flaky.work()).toBe(node.pid);
    expect(logged).toContain('circuit closed: e2e.gov.Flaky.work on 127.0.0.1:');
    for (let i = 0; i < 5; i++) expect(await flaky.work()).toBe(node.pid);
  }, 20_000);

  it('with two nodes the balancer skips the open one: calls keep succeeding, fast, on the other', async () => {
    const a = await provider();
    const b = await provider();
    const app = consumer({
      url: `plexus://127.0.0.1:${a.port},plexus://127.0.0.1:${b.port}`,
      loadbalance: 'roundrobin',
      timeout: 150,
      circuitbreaker: { minCalls: 2, errorRate: 50, openMs: 5000 },
    });
    await app.start();
    const flaky = app.reference<Flaky>('flaky');
    await setDelay(a, 1000);
    const outcomes: Array<number | string> = [];
    for (let i = 0; i < 6; i++) {
      const r = await timed(flaky.work());
      outcomes.push(r.error ? r.error.code : (r.value as number));
    }
    // a times out twice (its breaker opens), b answers; after that only b is chosen.
    expect(outcomes.filter((o) => o === RpcCode.TIMEOUT)).toHaveLength(2);
    for (let i = 0; i < 10; i++) {
      const r = await timed(flaky.work());
      expect(r.value).toBe(b.pid);
      expect(r.ms).toBeLessThan(100);
    }
  }, 20_000);
});

describe('mock and fallback across processes', () => {
  it('mock: return <json> answers when the call times out', async () => {
    const node = await provider();
    await setDelay(node, 1000);
    const app = consumer({ url: `plexus://127.0.0.1:${node.port}`, timeout: 200, mock: 'return {"pid":0,"cached":true}' });
    await app.start();
    const r = await timed(app.reference<Flaky>('flaky').work());
    expect(r.error).toBeUndefined();
    expect(r.value).toEqual({ pid: 0, cached: true });
    expect(r.ms).toBeGreaterThanOrEqual(150);
    expect(r.ms).toBeLessThan(400);
    await setDelay(node, 0);
  }, 20_000);

  it('app.reference(id, { fallback }) answers a timeout with the function, which sees the TIMEOUT', async () => {
    const node = await provider();
    await setDelay(node, 1000);
    const app = consumer({ url: `plexus://127.0.0.1:${node.port}`, timeout: 200 });
    await app.start();
    const seen: string[] = [];
    const flaky = app.reference<Flaky>('flaky', {
      fallback: (invocation, error) => {
        seen.push(`${invocation.method}:${error.code}`);
        return -1;
      },
    });
    expect(await flaky.work()).toBe(-1);
    expect(seen).toEqual(['work:TIMEOUT']);
    await setDelay(node, 0);
    const again = await flaky.work();
    expect(seen).toEqual(['work:TIMEOUT']);
    expect(again).toBe(node.pid);
  }, 20_000);

  it('a malformed mock fails the start with PLEXUS_ERR_MOCK_CONFIG', async () => {
    const app = consumer({ url: 'plexus://127.0.0.1:1', mock: 'return not-json' });
    await expect(app.start()).rejects.toMatchObject({ code: 'PLEXUS_ERR_MOCK_CONFIG' });
  });
});

describe('access log across processes', () => {
  it('the provider appends one line per call to its file; the consumer logs one per attempt through the logger', async () => {
    const node = await provider(', accesslog: ./provider-access.log');
    const app = consumer({ url: `plexus://127.0.0.1:${node.port}`, timeout: 2000, accesslog: true });
    await app.start();
    const flaky = app.reference<Flaky>('flaky');
    for (let i = 0; i < 3; i++) await flaky.work();
    const file = path.join(dir, 'provider-access.log');
    const lines = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
    await waitFor(() => lines().length >= 3, 5000, 'three lines in the provider access log', 20);
    expect(lines()).toHaveLength(3);
    for (const l of lines()) expect(l).toMatch(/^\S+Z provider e2e\.gov\.Flaky work caller=127\.0\.0\.1:\d+ \d+\.\dms OK$/);
    const consumerLines = logged.split('\n').filter((l) => l.includes(` consumer e2e.gov.Flaky work provider=127.0.0.1:${node.port} `));
    expect(consumerLines).toHaveLength(3);
  }, 20_000);
});

describe('health across processes', () => {
  it('a killed node is suspended after network failures in a row, probed with $echo, and restored when a process answers on its port again', async () => {
    const node = await provider();
    const app = consumer({ url: `plexus://127.0.0.1:${node.port}`, timeout: 300, health: { failures: 2, probeMs: 100, probeTimeout: 200 } });
    await app.start();
    const flaky = app.reference<Flaky>('flaky');
    expect(await flaky.work()).toBe(node.pid);
    process.kill(node.pid, 'SIGKILL');
    await node.exited;
    const suspended = `node 127.0.0.1:${node.port} is unhealthy`;
    for (let i = 0; i < 4 && !logged.includes(suspended); i++) expect((await rejectionOf(flaky.work())).code).toBe(RpcCode.NETWORK);
    expect(logged).toContain(suspended);
    expect((await rejectionOf(flaky.work())).code).toBe(RpcCode.NO_PROVIDER);

    // A new process on the same port: the next probe answers and the node is back.
    const file = path.join(dir, 'provider-again.yaml');
    fs.writeFileSync(file, fs.readFileSync(path.join(dir, 'provider.yaml'), 'utf8').replace('port: 0', `port: ${node.port}`));
    const again = await startProvider(file);
    providers.push(again);
    await waitFor(() => logged.includes(`node 127.0.0.1:${node.port} answered a probe`), 5000, 'a probe answered', 20);
    expect(await flaky.work()).toBe(again.pid);
  }, 20_000);
});

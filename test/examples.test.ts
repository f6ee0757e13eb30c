import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadBalanceContract, serializerContract } from '@plexus/kernel/testing';
import { Plexus } from '@plexus/kernel';
import { JsonSerializer } from '../plugins/serializer-json/src';
import { RandomLoadBalance } from '../plugins/loadbalance/src';

/**
 * Every example under examples/ runs with the one command its README gives (built packages, real
 * processes on 127.0.0.1), exits 0 within a bound, prints its key lines, and leaves none of the
 * processes it started alive. The two plugins of examples/custom-plugin also pass the contract
 * suites that docs/guide/writing-a-plugin.md tells plugin authors to run.
 */
const root = path.resolve(__dirname, '..');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` from the repository root; SIGTERM past `boundMs`, SIGKILL 3 s later. */
function run(command: string, args: string[], boundMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }, boundMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids the output names (`pid 123`, `provider 123`, `(pid 123)`), so the test can check they are gone. */
function pidsIn(out: string): number[] {
  return [...new Set([...out.matchAll(/\b(?:pid|provider) (\d{2,})\b/g)].map((m) => Number(m[1])))];
}

/** The run's result, with the whole output when it failed (so a failure explains itself). */
function outcome(r: Run): { code: number | null; signal: NodeJS.Signals | null; out?: string } {
  return r.code === 0 ? { code: 0, signal: null } : { code: r.code, signal: r.signal, out: `${r.stdout}\n${r.stderr}` };
}

async function expectNoneAlive(pids: number[]): Promise<void> {
  // A child killed by run.js may take a moment to be reaped.
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  expect(pids.filter(alive)).toEqual([]);
}

describe('examples run with their one command', () => {
  it('every example folder is covered here and has a README', () => {
    const folders = fs
      .readdirSync(path.join(root, 'examples'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(folders).toEqual(['custom-plugin', 'hello', 'per-service-serializer', 'typescript', 'zookeeper-cluster']);
    for (const f of folders) expect(fs.existsSync(path.join(root, 'examples', f, 'README.md'))).toBe(true);
    const index = fs.readFileSync(path.join(root, 'examples', 'README.md'), 'utf8');
    for (const f of folders) expect(index).toContain(`(${f}/README.md)`);
  });

  it('hello: two providers answer in turn, one stops under load, no call fails', async () => {
    const r = await run(process.execPath, ['examples/hello/run.js'], 50_000);
    expect(outcome(r)).toEqual({ code: 0, signal: null });
    expect(r.stdout).toMatch(/around the stop of provider \d+: \d+ calls, 0 failed/);
    expect(r.stdout).toContain('[demo] done: every process stopped');
    await expectNoneAlive(pidsIn(r.stdout));
  }, 60_000);

  it('zookeeper-cluster: round-robin over three, SIGKILL of one, no failed call, the entry dropped', async () => {
    const r = await run(process.execPath, ['examples/zookeeper-cluster/run.js'], 90_000);
    expect(outcome(r)).toEqual({ code: 0, signal: null });
    const first = [...r.stdout.matchAll(/first round call \d+ answered by provider ([ABC])/g)].map((m) => m[1]);
    expect(new Set(first)).toEqual(new Set(['A', 'B', 'C']));
    expect(r.stdout).toMatch(/ZooKeeper no longer lists 127\.0\.0\.1:\d+; 2 provider\(s\) left/);
    expect(r.stdout).toMatch(/meanwhile: \d+ calls, 0 failed/);
    const last = [...r.stdout.matchAll(/last round call \d+ answered by provider ([ABC])/g)].map((m) => m[1]);
    expect(last).toHaveLength(4);
    expect(last).not.toContain('A');
    await expectNoneAlive(pidsIn(r.stdout));
  }, 100_000);

  it('custom-plugin: the zone balancer keeps calls in eu, spills over to us, every body is checkedjson', async () => {
    const r = await run(process.execPath, ['examples/custom-plugin/run.js'], 30_000);
    expect(outcome(r)).toEqual({ code: 0, signal: null });
    expect(r.stdout).toMatch(/all three up: 20 calls answered: \d+ by eu-1, \d+ by eu-2\n/);
    expect(r.stdout).toContain('eu down: 20 calls answered: 20 by us-1');
    expect(r.stdout).toMatch(/a damaged checkedjson body is refused: SERIALIZATION checkedjson: checksum mismatch/);
  }, 40_000);

  it('per-service-serializer: msgpack bodies for one service, json for the other', async () => {
    const r = await run(process.execPath, ['examples/per-service-serializer/run.js'], 20_000);
    expect(outcome(r)).toEqual({ code: 0, signal: null });
    expect(r.stdout).toContain('[consumer] catalog bodies were msgpack');
    expect(r.stdout).toContain('[consumer] audit bodies were json');
    expect(r.stdout).toContain('[json] encoded 3 bytes  5b 37 5d'); // [7]
    expect(r.stdout).toContain('[msgpack] encoded 2 bytes  91 07'); // fixarray(1), 7
  }, 30_000);

  it('typescript: builds with tsc, then the typed consumer gets its answers', async () => {
    const build = await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'examples/typescript'], 120_000);
    expect(outcome(build)).toEqual({ code: 0, signal: null });
    const r = await run(process.execPath, ['examples/typescript/dist/run.js'], 20_000);
    expect(outcome(r)).toEqual({ code: 0, signal: null });
    expect(r.stdout).toContain('[consumer] add(40, 2) = 42');
    expect(r.stdout).toContain('[consumer] total(EUR, USD) failed as it should: SERVICE_ERROR');
  }, 150_000);
});

describe('examples/custom-plugin: configuration mistakes fail start()', () => {
  const dir = path.join(root, 'examples', 'custom-plugin');
  const start = async (extra: Record<string, unknown>) => {
    const app = Plexus.create({
      logLevel: 'silent',
      registry: null,
      protocols: [{ name: 'injvm' }],
      plugins: [path.join(dir, 'plugins', 'plexus-loadbalance-zone')],
      // The service is provided here too, so the reference has a route (in process) and only the
      // balancer's config can fail.
      services: [{ interface: 'demo.Echo', implementation: { echo: (text: string) => text } }],
      references: { echo: { interface: 'demo.Echo' } },
      ...extra,
    });
    try {
      await app.start();
    } finally {
      await app.stop();
    }
  };

  it('a misspelt balancer name suggests "zone"', async () => {
    await expect(start({ consumer: { loadbalance: 'zon' }, extensions: { loadbalance: { zone: { prefer: 'eu' } } } })).rejects.toThrow(/did you mean "zone"/i);
  });

  it('an unknown option of the balancer is refused, naming it', async () => {
    await expect(start({ consumer: { loadbalance: 'zone' }, extensions: { loadbalance: { zone: { prefr: 'eu' } } } })).rejects.toThrow(/unknown option "prefr"/);
  });

  it('the balancer without its required option refuses calls with PLEXUS_ERR_EXTENSION_OPTIONS, naming it', async () => {
    const app = Plexus.create({
      logLevel: 'silent',
      registry: null,
      protocols: [{ name: 'injvm' }],
      plugins: [path.join(dir, 'plugins', 'plexus-loadbalance-zone')],
      services: [{ interface: 'demo.Echo', implementation: { echo: (text: string) => text } }],
      references: { echo: { interface: 'demo.Echo' } },
      consumer: { loadbalance: 'zone' },
    });
    try {
      await app.start(); // without an extensions.loadbalance.zone entry, options are checked when the balancer is built
      await expect(app.reference<{ echo(t: string): string }>('echo').echo('x')).rejects.toMatchObject({
        code: 'PLEXUS_ERR_EXTENSION_OPTIONS',
        message: expect.stringContaining("required property 'prefer'"),
      });
    } finally {
      await app.stop();
    }
  });
});

/* eslint-disable @typescript-eslint/no-require-imports */
const zone = require('../examples/custom-plugin/plugins/plexus-loadbalance-zone/zone-load-balance.js');
const checked = require('../examples/custom-plugin/plugins/plexus-serializer-checkedjson/checked-json-serializer.js');

// Fakes carry no zone, so the balancer spills over to all and must behave as a weighted balancer.
loadBalanceContract('zone (examples/custom-plugin)', () => new zone.ZoneLoadBalance('eu', new RandomLoadBalance()));
serializerContract('checkedjson (examples/custom-plugin)', () => new checked.CheckedJsonSerializer(new JsonSerializer()));


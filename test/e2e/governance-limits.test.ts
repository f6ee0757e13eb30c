import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packProject } from '../fixtures/registries/harness';

/**
 * Issue 10's limits and auth from packed tarballs, with two real provider processes on loopback
 * and the embedded `local` registry (test/fixtures/governance-limits):
 * - `tps: 50` admits about fifty calls a second per provider and refuses the rest with a code;
 * - `executes: 2` refuses the third concurrent call with a code;
 * - a `token: true` service serves a registry-discovered consumer and refuses a direct caller.
 * The processes do not list `plugins:`: the installed @plexus/filters is found by its family name.
 * Every process started here is tracked by PID and killed in afterAll, whatever failed.
 */
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'governance-limits');

interface Outcome {
  port?: number;
  code?: string;
  reason?: string;
  message?: string;
}

class Child {
  out = '';
  exited = false;
  constructor(readonly proc: ChildProcess) {
    const keep = (d: Buffer) => {
      if (this.out.length < 64 * 1024) this.out += d.toString();
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.once('exit', () => (this.exited = true));
  }
  tail(): string {
    return this.out.trim().split('\n').slice(-30).join('\n');
  }
}

const children: Child[] = [];
let project: string;
let registryDir: string;
const providers: Array<{ port: number; pid: number; tokens: Record<string, boolean> }> = [];

function start(script: string, arg: unknown): Child {
  const proc = fork(path.join(project, script), [JSON.stringify(arg)], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn' },
  });
  const child = new Child(proc);
  children.push(child);
  return child;
}

/** The first IPC message of `child`, within `ms`; rejects with its output when it exits or times out first. */
function message<T>(child: Child, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms:\n${child.tail()}`)), ms);
    child.proc.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as T);
    });
    child.proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited (code ${code}, signal ${signal}) before answering:\n${child.tail()}`));
    });
  });
}

async function consumer<T>(scenario: string, extra: Record<string, unknown> = {}): Promise<T> {
  const child = start('limits-consumer.js', { dir: registryDir, scenario, ports: providers.map((p) => p.port), ...extra });
  const { result } = await message<{ result: T }>(child, 60_000, `consumer "${scenario}"`);
  return result;
}

beforeAll(async () => {
  project = packProject('limits');
  for (const f of ['limits-provider.js', 'limits-consumer.js']) fs.copyFileSync(path.join(FIXTURES, f), path.join(project, f));
  registryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-limits-registry-'));
  for (let i = 0; i < 2; i++) {
    const child = start('limits-provider.js', { dir: registryDir });
    providers.push(await message(child, 30_000, `provider ${i + 1}`));
  }
}, 300_000);

afterAll(async () => {
  for (const c of children) {
    if (c.exited) continue;
    try {
      process.kill(c.proc.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await Promise.all(children.filter((c) => !c.exited).map((c) => new Promise((r) => c.proc.once('exit', r))));
  if (registryDir) fs.rmSync(registryDir, { recursive: true, force: true });
  if (project) fs.rmSync(project, { recursive: true, force: true });
}, 30_000);

describe('governance limits from packed tarballs, two providers', () => {
  it('tps: 50 admits about fifty calls a second on each provider and refuses the rest with a code', async () => {
    const { seconds, outcomes } = await consumer<{ seconds: number; outcomes: Outcome[] }>('rate');
    const refused = outcomes.filter((o) => o.port === undefined);
    const perProvider = providers.map((p) => outcomes.filter((o) => o.port === p.port).length / seconds);
    const detail = JSON.stringify({ seconds, calls: outcomes.length, perProvider, refused: refused.length, sample: refused.slice(0, 2) });
    // About 200 calls/s were sent, round robin: each provider was asked about 100/s and admitted about 50/s.
    const asked = outcomes.length / seconds;
    const aboutFifty = perProvider.every((rate) => rate > 40 && rate < 62);
    if (!(asked > 120 && aboutFifty && refused.length > 0)) throw new Error(`expected about 50 admitted calls/s per provider out of >120/s asked: ${detail}`);
    for (const o of refused) expect({ code: o.code, reason: o.reason }).toEqual({ code: 'LIMIT_EXCEEDED', reason: 'PLEXUS_ERR_RATELIMIT_EXCEEDED' });
  }, 90_000);

  it('executes: 2 refuses the third concurrent call with a code, and admits again once calls end', async () => {
    const { first, after } = await consumer<{ first: Outcome[]; after: Outcome }>('executes', { direct: providers[0].port });
    const served = first.filter((o) => o.port === providers[0].port);
    const refused = first.filter((o) => o.port === undefined);
    expect([served.length, refused.length]).toEqual([2, 1]);
    expect(refused[0]).toMatchObject({ code: 'LIMIT_EXCEEDED', reason: 'PLEXUS_ERR_CONCURRENCY_EXECUTES' });
    expect(after).toEqual({ port: providers[0].port });
  }, 90_000);

  it('a token: true service serves a registry-discovered consumer and refuses a direct caller', async () => {
    for (const p of providers) expect(p.tokens['e2e.limits.Secret']).toBe(true);
    const { viaRegistry, direct } = await consumer<{ viaRegistry: Outcome[]; direct: Outcome[] }>('token', { direct: providers[1].port });
    expect(viaRegistry.every((o) => o.port !== undefined)).toBe(true);
    expect(new Set(viaRegistry.map((o) => o.port))).toEqual(new Set(providers.map((p) => p.port)));
    for (const o of direct) expect(o).toMatchObject({ code: 'FORBIDDEN', reason: 'PLEXUS_ERR_TOKEN_MISSING' });
  }, 90_000);
});

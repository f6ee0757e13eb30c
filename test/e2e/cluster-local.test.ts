import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packProject } from '../fixtures/registries/harness';

/**
 * Issue 9's "Done when", from packed tarballs: three provider processes of one service behind the
 * embedded `local` registry (weights 100, 300 and 600 — 1:3:6 — from their `weight` config), and a
 * consumer process per scenario (test/fixtures/cluster). The providers count every invocation of
 * their implementation and can be told over IPC to hold work() for a while; provider b's
 * application also acts as the operator that writes dynamic rules through `app.rules`. The
 * consumer waits until its own provider list holds all three before it takes a figure. Every process started here
 * is tracked by PID and killed in afterAll; everything listens on 127.0.0.1.
 */
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'cluster');
const WEIGHTS = { a: 100, b: 300, c: 600 } as const;
type Name = keyof typeof WEIGHTS;
/** c is tagged `gray` on e2e.cluster.Canary (its Pool service carries no tag). */
const GRAY: Name = 'c';
/** The provider whose application writes the dynamic rules (a process other than the consumer's). */
const OPERATOR: Name = 'b';

interface Tally {
  byName: Partial<Record<Name, number>>;
  failed: number;
  errors: Array<{ code?: string; reason?: string; remoteName?: string; message: string }>;
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
const providers: Record<Name, { port: number; pid: number; child: Child }> = {} as never;

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

/** The next IPC message of `child` that has `key`, within `ms`; rejects with its output when it exits or times out first. */
function message<T>(child: Child, key: string, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.proc.off('message', onMessage);
      child.proc.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what}: no answer within ${ms} ms:\n${child.tail()}`));
    }, ms);
    const onMessage = (m: Record<string, unknown>) => {
      if (!(key in m)) return;
      done();
      resolve(m as T);
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`${what}: exited (code ${code}, signal ${signal}) before answering:\n${child.tail()}`));
    };
    child.proc.on('message', onMessage);
    child.proc.once('exit', onExit);
  });
}

/** What a consumer asks of the test: a rule written or removed by another process. */
interface Ask {
  route?: Record<string, unknown>;
  override?: Record<string, unknown>;
  remove?: string;
  iface?: string;
}

/**
 * The operator: provider b's application writes or removes a rule through `app.rules` (so it
 * reaches the consumer through the registry, not inside one process) and answers `{ ok }` or
 * `{ error }`.
 */
async function operate(a: Ask): Promise<unknown> {
  const child = providers[OPERATOR].child;
  const action = a.route ? 'route' : a.override ? 'override' : 'remove';
  const answer = message<{ rules: unknown }>(child, 'rules', 30_000, `operator ${action}`);
  child.proc.send({ cmd: 'rules', action, arg: a.route ?? a.override ?? a.remove, iface: a.iface });
  return (await answer).rules;
}

/** Runs one consumer scenario in a fresh process (bounded: 90 s), answering what it asks, and returns its figures. */
async function scenario<T>(name: string, extra: Record<string, unknown> = {}): Promise<T> {
  const list = (Object.keys(WEIGHTS) as Name[]).map((n) => ({ name: n, port: providers[n].port }));
  const child = start('cluster-consumer.js', { dir: registryDir, scenario: name, providers: list, ...extra });
  const asks: Array<Promise<unknown>> = [];
  child.proc.on('message', (m: { ask?: Ask }) => {
    if (!m.ask) return;
    const done = operate(m.ask)
      .catch((err: Error) => ({ error: { message: err.message } }))
      .then((answer) => {
      if (!child.exited) child.proc.send({ answer });
    });
    asks.push(done);
  });
  const { result } = await message<{ result: T }>(child, 'result', 90_000, `consumer "${name}"`);
  await Promise.all(asks);
  return result;
}

/** Invocations of each provider's implementation so far, by `Service.method`. */
async function counts(): Promise<Record<Name, Record<string, number>>> {
  const out = {} as Record<Name, Record<string, number>>;
  for (const n of Object.keys(WEIGHTS) as Name[]) {
    const child = providers[n].child;
    const answer = message<{ counts: Record<string, number> }>(child, 'counts', 10_000, `provider ${n} counts`);
    child.proc.send({ cmd: 'counts' });
    out[n] = (await answer).counts;
  }
  return out;
}

/** From now on provider `n` holds each work() call `ms`. */
async function delay(n: Name, ms: number): Promise<void> {
  const child = providers[n].child;
  const answer = message(child, 'counts', 10_000, `provider ${n} delay`);
  child.proc.send({ cmd: 'delay', ms });
  await answer;
}

const total = (t: Tally) => Object.values(t.byName).reduce((s, x) => s + (x ?? 0), 0);
const noFailure = (t: Tally) => expect({ failed: t.failed, errors: t.errors }).toEqual({ failed: 0, errors: [] });
/** Printed figures, gathered for the log at the end. */
const figures: string[] = [];

beforeAll(async () => {
  project = packProject('cluster');
  for (const f of ['cluster-provider.js', 'cluster-consumer.js', 'my-lb.js', 'mine.yaml']) fs.copyFileSync(path.join(FIXTURES, f), path.join(project, f));
  registryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-cluster-registry-'));
  for (const n of Object.keys(WEIGHTS) as Name[]) {
    const child = start('cluster-provider.js', { dir: registryDir, name: n, weight: WEIGHTS[n], tag: n === GRAY ? 'gray' : undefined });
    const { port, pid } = await message<{ port: number; pid: number }>(child, 'port', 30_000, `provider ${n}`);
    providers[n] = { port, pid, child };
  }
}, 240_000);

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
  // eslint-disable-next-line no-console
  if (figures.length) console.log(`cluster e2e figures:\n  ${figures.join('\n  ')}`);
}, 30_000);

describe('the cluster layer from packed tarballs, three providers behind the local registry', () => {
  it('weighted random follows weights 1:3:6 within a few percent over 3,000 calls', async () => {
    const t = await scenario<Tally>('random');
    noFailure(t);
    expect(total(t)).toBe(3000);
    const share = (n: Name) => (t.byName[n] ?? 0) / 3000;
    figures.push(`random 3000 calls: a=${t.byName.a} b=${t.byName.b} c=${t.byName.c} (expected 300/900/1800)`);
    // Binomial sd at n=3000 is at most 0.9 %; 3 points is more than three sd for each provider.
    expect(Math.abs(share('a') - 0.1)).toBeLessThan(0.03);
    expect(Math.abs(share('b') - 0.3)).toBeLessThan(0.03);
    expect(Math.abs(share('c') - 0.6)).toBeLessThan(0.03);
  }, 120_000);

  it('smooth round robin is exact over 1,000 calls and never runs longer than the weights require', async () => {
    const t = await scenario<Tally & { sequence: string }>('roundrobin');
    noFailure(t);
    expect(t.byName).toEqual({ a: 100, b: 300, c: 600 });
    // Smooth: every ten consecutive calls hold exactly one a, three b and six c ...
    for (let i = 0; i + 10 <= t.sequence.length; i++) {
      const w = t.sequence.slice(i, i + 10);
      const n = (c: string) => w.split(c).length - 1;
      if (n('a') !== 1 || n('b') !== 3 || n('c') !== 6) throw new Error(`calls ${i}..${i + 9} are ${w}, not one a, three b and six c`);
    }
    // ... and six c among four others never need more than two in a row (a plain rotation gives six).
    const runs = Math.max(...(t.sequence.match(/(.)\1*/g) ?? []).map((r) => r.length));
    figures.push(`roundrobin 1000 calls: a=${t.byName.a} b=${t.byName.b} c=${t.byName.c}; longest run ${runs}; first 20: ${t.sequence.slice(0, 20)}`);
    expect(runs).toBeLessThanOrEqual(2);
  }, 120_000);

  it('consistent hashing never moves a key while the providers are stable, spreads keys over all three, and two consumers agree', async () => {
    const first = await scenario<{ passes: Array<Record<string, string>> }>('hash');
    const second = await scenario<{ passes: Array<Record<string, string>> }>('hash');
    const home = first.passes[0];
    expect(Object.keys(home)).toHaveLength(300);
    for (const v of Object.values(home)) expect(['a', 'b', 'c']).toContain(v);
    let moved = 0;
    for (const pass of [...first.passes, ...second.passes]) for (const k of Object.keys(home)) if (pass[k] !== home[k]) moved++;
    expect(moved).toBe(0);
    const keys = { a: 0, b: 0, c: 0 } as Record<Name, number>;
    for (const v of Object.values(home)) keys[v as Name]++;
    figures.push(`consistenthash 300 keys × 6 passes (2 processes): moved ${moved}; keys a=${keys.a} b=${keys.b} c=${keys.c}`);
    // Weights do not matter to a ring: each of three providers owns about a third (160 virtual nodes each).
    for (const n of Object.keys(keys) as Name[]) expect(keys[n]).toBeGreaterThan(50);
  }, 120_000);

  it('a load balancer from a local plugin file, listed under plugins: in the consumer config, is chosen by name and used', async () => {
    const t = await scenario<Tally & { selects: number }>('mine');
    noFailure(t);
    const lowest = (Object.keys(WEIGHTS) as Name[]).reduce((x, y) => (providers[x].port < providers[y].port ? x : y));
    figures.push(`user balancer "mine": ${JSON.stringify(t.byName)} (lowest port: ${lowest}); selects ${t.selects}`);
    expect(t.byName).toEqual({ [lowest]: 300 });
    expect(t.selects).toBe(300);
  }, 120_000);

  it('twenty business errors cost exactly twenty provider invocations under failover with retries 2', async () => {
    const before = await counts();
    const { outcomes } = await scenario<{ outcomes: Tally['errors'] }>('boom');
    const after = await counts();
    expect(outcomes).toHaveLength(20);
    for (const o of outcomes) expect(o).toMatchObject({ code: 'SERVICE_ERROR', remoteName: 'OutOfStock' });
    const invoked = (Object.keys(WEIGHTS) as Name[]).map((n) => (after[n]['Pool.boom'] ?? 0) - (before[n]['Pool.boom'] ?? 0));
    figures.push(`failover retries 2, 20 business errors: provider invocations a=${invoked[0]} b=${invoked[1]} c=${invoked[2]} (sum ${invoked[0] + invoked[1] + invoked[2]})`);
    expect(invoked.reduce((s, x) => s + x, 0)).toBe(20);
    // Round robin 1:3:6 over twenty calls: 2, 6 and 12.
    expect(invoked).toEqual([2, 6, 12]);
  }, 120_000);

  it('least active starves a slow provider: the heaviest one, holding each call 200 ms, gets a small share', async () => {
    await delay('c', 200);
    try {
      const t = await scenario<Tally>('leastactive');
      noFailure(t);
      const n = total(t);
      const shareC = (t.byName.c ?? 0) / n;
      figures.push(`leastactive, c slow (200 ms), 8 callers for 3 s: ${n} calls, a=${t.byName.a} b=${t.byName.b} c=${t.byName.c} (c ${(shareC * 100).toFixed(1)} %, its weight says 60 %)`);
      expect(n).toBeGreaterThan(200);
      expect(shareC).toBeLessThan(0.1);
      expect(t.byName.a ?? 0).toBeGreaterThan(0);
      expect(t.byName.b ?? 0).toBeGreaterThan(0);
    } finally {
      await delay('c', 0);
    }
  }, 120_000);

  /*
   * The provider c hangs on work(); its own `timeout` (300 ms) answers SERVER_TIMEOUT. Failover
   * must hide it: a retry on a or b would answer well within the consumer's 3 s budget.
   * SERVER_TIMEOUT is retryable; a SERVER_TIMEOUT caused by the consumer's own budget running out
   * is still not retried, because the cluster starts no attempt after the call's deadline.
   */
  it('failover hides a provider that times out (no failed call); failfast surfaces the timeout with its code', async () => {
    await delay('c', 5000);
    type Run = Tally & { ms: number };
    let r: { failover: Run; failfast: Run; failfastShort: Run };
    try {
      r = await scenario('timeout');
    } finally {
      await delay('c', 0);
    }
    const codes = (t: Run) => [...new Set(t.errors.map((e) => `${e.code}/${e.reason}`))].join(',');
    figures.push(
      `c hangs, 30 calls each, round robin: failover ok=${total(r.failover)} failed=${r.failover.failed} (${codes(r.failover)}) in ${r.failover.ms} ms; ` +
        `failfast failed=${r.failfast.failed} (${codes(r.failfast)}); failfast timeout 150 ms failed=${r.failfastShort.failed} (${codes(r.failfastShort)})`,
    );
    // failfast: the six in ten calls that reached c fail with the provider's timeout, coded ...
    expect(r.failfast.failed).toBe(18);
    for (const e of r.failfast.errors) expect(e).toMatchObject({ code: 'SERVER_TIMEOUT', reason: 'PLEXUS_ERR_CALL_SERVER_TIMEOUT' });
    // ... or, when the consumer's own deadline passes first, with the consumer's.
    expect(r.failfastShort.failed).toBe(18);
    for (const e of r.failfastShort.errors) expect(e).toMatchObject({ code: 'TIMEOUT', reason: 'PLEXUS_ERR_CALL_TIMEOUT' });
    // failover: not a single failed call; a and b answered all thirty.
    noFailure(r.failover);
    expect(total(r.failover)).toBe(30);
    expect(r.failover.byName.c ?? 0).toBe(0);
  }, 120_000);

  it('tag routing: calls tagged gray reach only the gray provider, untagged calls never do, and a tag rule written by another process through app.rules takes effect within seconds', async () => {
    const r = await scenario<{ gray: Tally; untagged: Tally; blue?: Tally; appliedMs: number; removed: number }>('tag', {
      blueAddress: `127.0.0.1:${providers.a.port}`,
    });
    figures.push(
      `tag: gray-tagged ${JSON.stringify(r.gray.byName)}; untagged ${JSON.stringify(r.untagged.byName)}; ` +
        `rule blue→a applied after ${r.appliedMs} ms, then ${JSON.stringify(r.blue?.byName)}`,
    );
    noFailure(r.gray);
    expect(r.gray.byName).toEqual({ [GRAY]: 200 });
    noFailure(r.untagged);
    expect(r.untagged.byName.c ?? 0).toBe(0);
    // The two untagged providers share the untagged calls 1:3 (round robin).
    expect(r.untagged.byName).toEqual({ a: 50, b: 150 });
    expect(r.appliedMs).toBeGreaterThanOrEqual(0);
    expect(r.appliedMs).toBeLessThan(10_000);
    noFailure(r.blue!);
    expect(r.blue!.byName).toEqual({ a: 200 });
    expect(r.removed).toBe(1);
  }, 120_000);

  it('a weight override written by another process through app.rules shifts traffic between the three providers within seconds', async () => {
    // a: 100 → 600, so 600:300:600 — a gets 40 % instead of 10 %.
    const r = await scenario<{ before: Tally; after?: Tally; shiftedMs: number; probes: number[]; removed: number }>('override', {
      address: `127.0.0.1:${providers.a.port}`,
      weight: 600,
      probeShare: 0.35,
    });
    figures.push(`override a→600: before ${JSON.stringify(r.before.byName)}; shifted after ${r.shiftedMs} ms (last probes ${r.probes}); after ${JSON.stringify(r.after?.byName)}`);
    noFailure(r.before);
    expect(r.before.byName).toEqual({ a: 100, b: 300, c: 600 });
    expect(r.shiftedMs).toBeGreaterThanOrEqual(0);
    expect(r.shiftedMs).toBeLessThan(10_000);
    noFailure(r.after!);
    expect(Math.abs((r.after!.byName.a ?? 0) - 400)).toBeLessThanOrEqual(10);
    expect(Math.abs((r.after!.byName.b ?? 0) - 200)).toBeLessThanOrEqual(10);
    expect(Math.abs((r.after!.byName.c ?? 0) - 400)).toBeLessThanOrEqual(10);
    expect(r.removed).toBe(1);
  }, 120_000);
});

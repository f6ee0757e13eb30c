import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageFolders, packedProject } from './helpers';

/**
 * The `plexus` command as users get it: the kernel, every plugin and the `plexus` package packed
 * with `npm pack`, installed into a fresh project outside the monorepo, and run as real processes
 * on 127.0.0.1. Every process started here is tracked by PID and stopped in afterAll.
 * `start` serves the plexus and http protocols at once.
 */
let project: string;
let bin: string;
let registryDir: string;
const started: ChildProcess[] = [];

interface Ran {
  code: number | null;
  out: string;
  err: string;
  ms: number;
}

/** Runs `plexus ...args` to completion (bounded by `timeout`) in the packed project. */
function plexus(args: string[], options: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Ran> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: project, timeout: options.timeout ?? 30_000, env: { ...process.env, ...options.env }, maxBuffer: 4 << 20 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, out: stdout.trim(), err: stderr.trim(), ms: Date.now() - t0 });
      },
    );
  });
}

/** A `plexus start` process: its output so far, and its exit. */
class Started {
  out = '';
  err = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d: Buffer) => (this.out.length < 1 << 16 ? (this.out += d.toString()) : undefined));
    proc.stderr!.on('data', (d: Buffer) => (this.err.length < 1 << 16 ? (this.err += d.toString()) : undefined));
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Waits (bounded) until stdout matches `re`. */
  async waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out);
      if (m) return m;
      if (Date.now() > end || this.proc.exitCode !== null) throw new Error(`no ${re} within ${ms} ms; stdout:\n${this.out}\nstderr:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function start(config: string): Started {
  const proc = spawn(process.execPath, [bin, 'start', config], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  return new Started(proc);
}

function provider(name: string): string {
  const file = path.join(project, `${name}.yaml`);
  fs.writeFileSync(
    file,
    `application: { name: ${name} }
registry: { type: local, dir: ${registryDir}, snapshot: false }
protocols:
  - { name: plexus, host: 127.0.0.1, port: 0 }
  - { name: http, host: 127.0.0.1, port: 0 }
services:
  - interface: acc.Echo
    version: 1.0.0
    implementation: ./echo.js
`,
  );
  return file;
}

beforeAll(() => {
  project = packedProject('cli-packed', packageFolders(true));
  registryDir = path.join(project, 'registry');
  fs.mkdirSync(registryDir);
  bin = path.join(project, 'node_modules', 'plexus', 'dist', 'bin.js');
  fs.writeFileSync(
    path.join(project, 'echo.js'),
    `module.exports = class Echo {
       add(a, b) { return a + b; }
       echo(v) { return v; }
       fail() { throw new Error('nope'); }
     };`,
  );
}, 600_000);

afterAll(async () => {
  for (const p of started) {
    if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

describe('plexus from packed tarballs', () => {
  let served: Started;
  let url: string;
  let httpUrl: string;

  it('installs a `plexus` bin whose --help lists the commands', async () => {
    expect(fs.existsSync(path.join(project, 'node_modules', '.bin', 'plexus'))).toBe(true);
    const r = await plexus(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['start', 'call', 'ls', 'bench', 'config', 'rule']) expect(r.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it('`plexus start p.yaml` serves on the plexus and http protocols at once', async () => {
    served = start(provider('p'));
    await served.waitFor(/^started p \(pid \d+\)$/m, 20_000);
    url = (await served.waitFor(/serving acc\.Echo:1\.0\.0 at (plexus:\/\/127\.0\.0\.1:\d+)/, 1000))[1];
    httpUrl = (await served.waitFor(/serving acc\.Echo:1\.0\.0 at (http:\/\/127\.0\.0\.1:\d+)/, 1000))[1];
    // what curl -X POST -H 'plexus-version: 1.0.0' -d '[40,2]' <http>/acc.Echo/add does
    const res = await fetch(`${httpUrl}/acc.Echo/add`, { method: 'POST', headers: { 'content-type': 'application/json', 'plexus-version': '1.0.0' }, body: '[40,2]' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('42');
  });

  it('`plexus call` works by --url and by --registry local:///dir', async () => {
    expect(await plexus(['call', 'acc.Echo', 'add', '[40,2]', '--url', url, '--version', '1.0.0'])).toMatchObject({ code: 0, out: '42' });
    expect(await plexus(['call', 'acc.Echo', 'add', '[40,2]', '--registry', `local://${registryDir}`, '--version', '1.0.0'])).toMatchObject({ code: 0, out: '42' });
    expect(await plexus(['call', 'acc.Echo', 'echo', '{"a":[1,"x"]}', '--url', url, '--version', '1.0.0'])).toMatchObject({ code: 0, out: '{"a":[1,"x"]}' });
    expect(await plexus(['call', 'acc.Echo', 'add', '[40,2]', '--url', httpUrl, '--version', '1.0.0'])).toMatchObject({ code: 0, out: '42' });
  });

  it('`plexus ls` shows the service and its provider\'s address', async () => {
    const r = await plexus(['ls', '--registry', `local://${registryDir}`]);
    expect(r.code).toBe(0);
    const row = r.out.split('\n').find((l) => l.includes(url));
    expect(row).toMatch(new RegExp(`^acc\\.Echo\\s+provider\\s+${url.replace(/[./]/g, '\\$&')}\\s+1\\.0\\.0\\s+p\\s`));
    expect(r.out.split('\n').find((l) => l.includes(httpUrl))).toMatch(/^acc\.Echo\s+provider\s+http:/);
    const json = JSON.parse((await plexus(['ls', '--registry', `local://${registryDir}`, '--json'])).out);
    expect(json.services[0].providers.map((p: { address: string }) => p.address).sort()).toEqual([httpUrl, url]);
  });

  it('a failed call exits non-zero with one coded line, within the timeout', async () => {
    const business = await plexus(['call', 'acc.Echo', 'fail', '[]', '--url', url, '--version', '1.0.0']);
    expect(business.code).toBe(1);
    expect(business.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Echo\.fail failed with SERVICE_ERROR: nope \(.+\)$/);
    const down = await plexus(['call', 'acc.Echo', 'add', '[1,2]', '--url', 'plexus://127.0.0.1:1', '--timeout', '2000']);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Echo\.add failed with NETWORK .+\)$/);
    expect(down.err.split('\n')).toHaveLength(1);
    const missing = await plexus(['call', 'acc.Missing', 'add', '[1,2]', '--registry', `local://${registryDir}`, '--timeout', '2000']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Missing\.add failed with NO_PROVIDER/);
    // Node's own start-up takes a few hundred ms on a busy machine; the call itself stays in its budget.
    expect(missing.ms).toBeLessThan(2000 + 5000);
    const json = await plexus(['call', 'acc.Echo', 'add', '[40, 2', '--url', url]);
    expect(json.code).toBe(1);
    expect(json.err).toMatch(/^PLEXUS_ERR_CLI_BAD_ARGS_JSON: .*at line 1, column 7 \(offset 6\)/);
    const typo = await plexus(['lss']);
    expect(typo.code).toBe(1);
    expect(typo.err).toMatch(/^PLEXUS_ERR_CLI_USAGE: unknown command 'lss' \(Did you mean ls\?\)/);
  });

  it('`plexus bench` reports p99', async () => {
    const r = await plexus(['bench', 'acc.Echo', 'add', '[1,2]', '--url', url, '--version', '1.0.0', '--concurrency', '20', '--duration', '1000', '--warmup', '200']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^acc\.Echo\.add: 20 in flight for \d+ ms$/m);
    expect(r.out).toMatch(/^rate\s+\d+ calls\/s\s+\(this process: [\d.]+ µs CPU per call\)$/m);
    expect(r.out).toMatch(/^latency\s+p50 [\d.]+ ms\s+p90 [\d.]+ ms\s+p99 [\d.]+ ms\s+max [\d.]+ ms$/m);
    const json = JSON.parse((await plexus(['bench', 'acc.Echo', 'add', '[1,2]', '--url', url, '--version', '1.0.0', '--concurrency', '5', '--duration', '500', '--warmup', '100', '--json'])).out);
    expect(json.calls).toBeGreaterThan(0);
    expect(json.errors).toBe(0);
    expect(json.latencyMs.p99).toBeGreaterThan(0);
  });

  it('`plexus rule` sets, lists and removes rules through the registry', async () => {
    fs.writeFileSync(path.join(project, 'rules.yaml'), 'overrides:\n  - { id: e2e-weight, address: 127.0.0.1, weight: 50 }\n');
    const reg = `local://${registryDir}`;
    expect(await plexus(['rule', 'set', 'acc.Echo', 'rules.yaml', '--registry', reg])).toMatchObject({ code: 0, out: 'set override e2e-weight of acc.Echo' });
    expect((await plexus(['rule', 'ls', 'acc.Echo', '--registry', reg])).out).toMatch(/^acc\.Echo\s+e2e-weight\s+override\s+at 127\.0\.0\.1 weight=50/m);
    expect(await plexus(['rule', 'rm', 'acc.Echo', 'e2e-weight', '--registry', reg])).toMatchObject({ code: 0 });
    expect((await plexus(['rule', 'ls', 'acc.Echo', '--registry', reg])).out).toBe('no rules');
  });

  it('`plexus config --explain` names where each value came from', async () => {
    const r = await plexus(['config', 'p.yaml', '--explain'], { env: { PLEXUS_CONSUMER_TIMEOUT: '250' } });
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^application\.name = "p" \(file \S*p\.yaml:1:\d+\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^services\[0\]\.implementation = "\.\/echo\.js" \(file \S*p\.yaml:9:\d+\)$/));
    expect(lines).toContain('consumer.timeout = 250 (env PLEXUS_CONSUMER_TIMEOUT)');
    expect(lines).toContain('consumer.retries = 2 (default)');
    for (const l of lines.slice(1)) expect(l).toMatch(/ \((default|file \S+:\d+:\d+|env PLEXUS_\w+|code|runtime)\)$/);
  });

  it('`plexus start` stops cleanly on SIGTERM (exit 0, unregistered)', async () => {
    process.kill(served.proc.pid!, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([served.exited, new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), 15_000)))]);
    clearTimeout(timer);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(served.out).toMatch(/^stopped p$/m);
    expect(served.err).toContain('SIGTERM received: stopping gracefully');
    const r = await plexus(['ls', '--registry', `local://${registryDir}`, '--json']);
    const echo = JSON.parse(r.out).services.find((s: { interface: string }) => s.interface === 'acc.Echo');
    expect(echo?.providers ?? []).toEqual([]);
  });

  it('`plexus start` stops cleanly on SIGINT too', async () => {
    const again = start(provider('q'));
    await again.waitFor(/^started q/m, 20_000);
    process.kill(again.proc.pid!, 'SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([again.exited, new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), 15_000)))]);
    clearTimeout(timer);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('`plexus start` with a broken config exits 1 with one coded line', async () => {
    fs.writeFileSync(path.join(project, 'bad.yaml'), 'protocol: { name: plexus, port: 0, serializer: msgpak }\nservices:\n  - interface: acc.Echo\n    implementation: ./echo.js\n');
    const misspelt = await plexus(['start', 'bad.yaml'], { timeout: 20_000 });
    expect(misspelt.code).toBe(1);
    expect(misspelt.err.split('\n').pop()).toMatch(/^PLEXUS_ERR_EXTENSION_NOT_FOUND: No serializer named "msgpak".*Did you mean "msgpack"\?/);
    fs.writeFileSync(path.join(project, 'bad2.yaml'), 'services:\n  - interface: acc.Echo\n    implementaton: ./echo.js\n');
    const invalid = await plexus(['start', 'bad2.yaml'], { timeout: 20_000 });
    expect(invalid.code).toBe(1);
    expect(invalid.err).toMatch(/^PLEXUS_ERR_CONFIG_INVALID: .*bad2\.yaml:3:5 services\[0\]\.implementaton is not a known key \(did you mean "implementation"\?\)/);
  });
});

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * `npm run demo` as a user sees it: `node examples/hello/run.js` (built packages, real processes
 * on 127.0.0.1, the embedded `local` registry). Two providers answer in turn, one is stopped with
 * SIGTERM under a steady call loop and no call fails, the survivor answers the rest, the run exits
 * 0 within a bound and leaves no process and no registry folder behind.
 */
const root = path.resolve(__dirname, '..', '..');
const DEMO_BOUND_MS = 50_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runDemo(): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'examples', 'hello', 'run.js')], {
      cwd: root,
      env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // run.js kills its own children when it gets SIGTERM; SIGKILL only if it ignores that.
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }, DEMO_BOUND_MS);
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

describe('npm run demo (examples/hello over the local registry)', () => {
  let run: Run;

  beforeAll(async () => {
    run = await runDemo();
  }, DEMO_BOUND_MS + 10_000);

  it('exits 0 without an error', () => {
    expect({ code: run.code, signal: run.signal, out: run.code === 0 ? '' : `${run.stdout}\n${run.stderr}` }).toEqual({ code: 0, signal: null, out: '' });
    expect(run.stdout).toContain('[demo] done: every process stopped');
  });

  it('finds both providers without an address and calls them in turn, then only the survivor', () => {
    const up = /\[demo\] providers up: (\d+) on port (\d+), (\d+) on port (\d+)/.exec(run.stdout);
    expect(up).not.toBeNull();
    const [first, second] = [Number(up![1]), Number(up![3])];
    expect(Number(up![2])).toBeGreaterThan(0);
    expect(Number(up![4])).toBeGreaterThan(0);

    const [before, after] = run.stdout.split('[consumer] one provider left:');
    expect(after).toBeDefined();
    const answered = (text: string) => [...text.matchAll(/call \d+ answered by provider (\d+)/g)].map((m) => Number(m[1]));
    expect(new Set(answered(before))).toEqual(new Set([first, second]));
    expect(answered(after).length).toBeGreaterThan(0);
    expect(new Set(answered(after))).toEqual(new Set([second]));

    const stop = /around the stop of provider (\d+): (\d+) calls, (\d+) failed/.exec(run.stdout);
    expect(stop).not.toBeNull();
    expect(Number(stop![1])).toBe(first);
    expect(Number(stop![2])).toBeGreaterThan(0);
    expect(Number(stop![3])).toBe(0);
  });

  it('leaves no process and no registry folder behind', () => {
    const pids = [...run.stdout.matchAll(/\[provider (\d+)\] serving|\[demo\] consumer (\d+) started/g)].map((m) => Number(m[1] ?? m[2]));
    expect(pids).toHaveLength(3);
    expect(pids.filter(alive)).toEqual([]);
    const folder = /\[demo\] registry folder: (\S+)/.exec(run.stdout);
    expect(folder).not.toBeNull();
    expect(fs.existsSync(path.dirname(folder![1]))).toBe(false);
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE = path.join(__dirname, '..');
export const FIXTURES = path.join(__dirname, 'fixtures');

/**
 * Child processes load the built package (`dist/`), as an application would. A missing or stale
 * build fails the tests loudly instead of testing old code.
 */
export function assertBuilt(): void {
  const newest = (dir: string, ext: string): number =>
    Math.max(0, ...fs.readdirSync(dir).filter((f) => f.endsWith(ext)).map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
  const dist = path.join(PACKAGE, 'dist');
  if (!fs.existsSync(path.join(dist, 'index.js'))) throw new Error('plugins/registry-local/dist is missing: run `npx tsc -b plugins/registry-local` first');
  if (newest(path.join(PACKAGE, 'src'), '.ts') > newest(dist, '.js')) {
    throw new Error('plugins/registry-local/dist is older than src: run `npx tsc -b plugins/registry-local` first');
  }
}

/** A fixture process speaking one JSON object per line on stdout. */
export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly messages: Array<Record<string, unknown>> = [];
  private waiters: Array<() => void> = [];
  private stderrText = '';

  constructor(fixture: string, arg: unknown) {
    this.process = spawn(process.execPath, [path.join(FIXTURES, fixture), JSON.stringify(arg)], {
      cwd: PACKAGE,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.process.stdout!.setEncoding('utf8');
    this.process.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        this.messages.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
        buffered = buffered.slice(nl + 1);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.process.stderr!.setEncoding('utf8');
    this.process.stderr!.on('data', (chunk: string) => (this.stderrText += chunk));
    this.exited = new Promise((resolve) => this.process.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  get stderr(): string {
    return this.stderrText;
  }

  send(command: Record<string, unknown>): void {
    this.process.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** The first message (not yet taken) that has `key`; bounded by `limitMs`. */
  async next(key: string, limitMs = 15_000): Promise<Record<string, unknown>> {
    const end = Date.now() + limitMs;
    for (;;) {
      const i = this.messages.findIndex((m) => key in m);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (this.process.exitCode !== null || this.process.signalCode !== null) {
        throw new Error(`child ${this.pid} exited (${this.process.exitCode ?? this.process.signalCode}) before "${key}": ${this.stderrText}`);
      }
      const left = end - Date.now();
      if (left <= 0) throw new Error(`child ${this.pid} sent no "${key}" within ${limitMs} ms: ${this.stderrText}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves with the exit, or rejects if it takes longer than `limitMs`. */
  async exit(limitMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`child ${this.pid} did not exit within ${limitMs} ms: ${this.stderrText}`)), limitMs);
    });
    try {
      return await Promise.race([this.exited, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills this child (by its own PID) if it still runs. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
  }
}

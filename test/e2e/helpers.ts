import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'e2e');

/** The monorepo's root. */
export const ROOT = path.resolve(__dirname, '..', '..');

/** Every publishable package folder: the kernel, each plugin, and (with `cli`) the command. */
export function packageFolders(cli = false): string[] {
  return ['kernel', ...fs.readdirSync(path.join(ROOT, 'plugins')).map((p) => `plugins/${p}`), ...(cli ? ['cli'] : [])];
}

/** Runs npm quietly (no audit, no fund), bounded to 5 minutes; answers its stdout. */
export function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
  });
}

/**
 * A fresh project outside the monorepo, as a user would have it: `packages` (folders under the
 * root) packed with `npm pack` and installed from those tarballs, so a test sees what publishing
 * would ship — missing `files`, dependencies only the workspace hoisting provided. `dependencies`
 * adds registry packages (e.g. `@grpc/grpc-js`). Answers the project's folder (under the OS temp dir).
 */
export function packedProject(prefix: string, packages: readonly string[], dependencies: Record<string, string> = {}): string {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), `plexus-${prefix}-`));
  const tarballs = path.join(project, 'tarballs');
  fs.mkdirSync(tarballs);
  const deps: Record<string, string> = { ...dependencies };
  for (const pkg of packages) {
    const out = npm(['pack', '--json', '--pack-destination', tarballs], path.join(ROOT, pkg));
    const [{ name, filename }] = JSON.parse(out) as Array<{ name: string; filename: string }>;
    deps[name] = `file:tarballs/${path.basename(filename)}`;
  }
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `${prefix}-app`, private: true, dependencies: deps }, null, 2));
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project);
  return project;
}

export interface ProviderProcess {
  child: ChildProcess;
  port: number;
  pid: number;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

/** Forks a provider from a config file and waits for it to report its port (bounded: 20 s). */
export function startProvider(config: string, execArgv: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ProviderProcess> {
  const child = fork(path.join(FIXTURES, 'start-provider.js'), [config], {
    execArgv,
    env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`provider did not start in 20 s: ${err}`));
    }, 20_000);
    child.once('message', (m: { port: number; pid: number }) => {
      clearTimeout(timer);
      resolve({ child, port: m.port, pid: m.pid, exited, stderr: () => err });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`provider exited with ${code} before it started: ${err}`));
    });
  });
}

/** Opens a raw socket to 127.0.0.1:port, writes `bytes` and resolves when the peer closes it (or after `waitMs`). */
export function sendRaw(port: number, bytes: Buffer, waitMs = 2000): Promise<{ closedByPeer: boolean; received: number }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = 0;
    let done = false;
    const finish = (closedByPeer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ closedByPeer, received });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d) => (received += d.length));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', () => socket.write(bytes));
  });
}

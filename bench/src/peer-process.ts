/**
 * The runner side of peer processes: fork, the IPC conversation, and a guarantee that every
 * child is killed by its PID when the bench ends, fails or is interrupted.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { cpusFor, pin, type Layout } from './affinity';
import type { CpuTime, PeerArgs, RunResult, ToChild, ToParent } from './ipc';
import type { PayloadKind } from './payload';
import type { PeerSpec } from './peers';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every peer process still alive (SIGKILL, by PID). Safe to call repeatedly and from 'exit'. */
export function killAllPeers(): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  live.clear();
}

/** PIDs of the peer processes currently alive (for tests and diagnostics). */
export function livePeerPids(): number[] {
  return [...live].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
}

/** How much of a child's output to keep for error reports. */
const TAIL_BYTES = 4000;

type Waiter = { type: ToParent['type']; resolve: (m: ToParent) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** One forked peer process (a server or a client) and its message stream. */
export class PeerProcess {
  private readonly child: ChildProcess;
  private readonly inbox: ToParent[] = [];
  private readonly waiters: Waiter[] = [];
  private tail = '';
  private exited: string | undefined;

  /**
   * @param label  e.g. `grpc-server`, used in errors and verbose output.
   * @param script absolute path of the compiled script to fork.
   */
  constructor(
    readonly label: string,
    script: string,
    args: PeerArgs,
    verbose: boolean,
  ) {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', killAllPeers);
    }
    this.child = fork(script, [JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // The runner's own flags (a test runner's, an inspector) must not leak into the peers.
      execArgv: [],
      serialization: 'json',
    });
    live.add(this.child);
    const keep = (chunk: Buffer) => {
      const text = chunk.toString();
      this.tail = (this.tail + text).slice(-TAIL_BYTES);
      if (verbose) process.stderr.write(text.replace(/^(?=.)/gm, `[${label}] `));
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.on('message', (message: ToParent) => this.deliver(message));
    this.child.on('error', (err) => this.fail(`${label}: ${err.message}`));
    this.child.on('exit', (code, signal) => {
      live.delete(this.child);
      this.fail(`${label} exited (${signal ?? `code ${code}`})${this.tail ? `; its output ends with:\n${this.tail.trim()}` : ''}`);
    });
  }

  /** PID of the process. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends one message; ignored once the process is gone. */
  send(message: ToChild): void {
    if (this.exited === undefined && this.child.connected) this.child.send(message);
  }

  /** Subscribes to every message (including ones also awaited with {@link next}). */
  onMessage(listener: (message: ToParent) => void): () => void {
    this.child.on('message', listener);
    return () => this.child.off('message', listener);
  }

  /** The next message of `type` (buffered if it already came); rejects on `failed`, exit or timeout. */
  next<T extends ToParent['type']>(type: T, timeoutMs: number): Promise<Extract<ToParent, { type: T }>> {
    const at = this.inbox.findIndex((m) => m.type === type);
    if (at >= 0) return Promise.resolve(this.inbox.splice(at, 1)[0] as Extract<ToParent, { type: T }>);
    if (this.exited !== undefined) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        resolve: resolve as (m: ToParent) => void,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`${this.label}: no "${type}" within ${timeoutMs} ms${this.tail ? `; output:\n${this.tail.trim()}` : ''}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Asks the process to stop, then kills it by PID if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.kill(), graceMs);
    await gone;
    clearTimeout(timer);
  }

  /** Kills the process by PID at once. */
  kill(): void {
    if (this.child.pid !== undefined && this.exited === undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  private deliver(message: ToParent): void {
    if (message.type === 'failed') {
      this.fail(`${this.label} failed: ${message.error}`);
      return;
    }
    if (message.type === 'window-start' || message.type === 'window-end') return;
    const at = this.waiters.findIndex((w) => w.type === message.type);
    if (at < 0) {
      this.inbox.push(message);
      return;
    }
    const [waiter] = this.waiters.splice(at, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(message);
  }

  private fail(reason: string): void {
    this.exited ??= reason;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(reason));
    }
  }
}

/** One measurement as both processes saw it. */
export interface PairMeasurement {
  client: RunResult;
  serverCpu: CpuTime;
}

/** A peer's server process and client process, started and measured together. */
export class PeerPair {
  private constructor(
    readonly spec: PeerSpec,
    readonly server: PeerProcess,
    readonly client: PeerProcess,
    readonly info: Record<string, unknown>,
  ) {}

  /**
   * Forks the server, waits for its port, forks the client (which sends `payload` on every call),
   * waits until it has made one call.
   */
  static async start(spec: PeerSpec, distDir: string, verbose: boolean, payload: PayloadKind = 'small', startMs = 30_000): Promise<PeerPair> {
    const script = (role: string) => path.join(distDir, 'peers', `${spec.script}-${role}.js`);
    const server = new PeerProcess(`${spec.name}-server`, script('server'), { options: spec.options }, verbose);
    let client: PeerProcess | undefined;
    try {
      const ready = await server.next('ready', startMs);
      if (typeof ready.port !== 'number' || ready.port <= 0) throw new Error(`${spec.name}-server reported no port`);
      client = new PeerProcess(`${spec.name}-client`, script('client'), { port: ready.port, options: spec.options, server: ready.info, payload }, verbose);
      const clientReady = await client.next('ready', startMs);
      return new PeerPair(spec, server, client, { port: ready.port, server: ready.info, client: clientReady.info });
    } catch (err) {
      client?.kill();
      server.kill();
      throw err;
    }
  }

  /** Pins both processes for `layout` (see affinity.ts); returns the layout in effect. */
  place(layout: Layout): Layout {
    if (layout === 'none' || this.client.pid === undefined || this.server.pid === undefined) return 'none';
    const cpus = cpusFor(layout);
    return pin(this.client.pid, cpus.client) && pin(this.server.pid, cpus.server) ? layout : 'none';
  }

  /**
   * One measurement: the client warms up, then opens its window; the server's CPU clock is
   * started and stopped as the client reports the window's edges, so both are charged the same span.
   */
  async measure(concurrency: number, warmupMs: number, durationMs: number): Promise<PairMeasurement> {
    const unsubscribe = this.client.onMessage((message) => {
      if (message.type === 'window-start') this.server.send({ type: 'cpu-start' });
      else if (message.type === 'window-end') this.server.send({ type: 'cpu-stop' });
    });
    try {
      this.client.send({ type: 'run', concurrency, warmupMs, durationMs });
      const client = await this.client.next('result', warmupMs + durationMs + 30_000);
      const cpu = await this.server.next('cpu', 10_000);
      return { client, serverCpu: cpu.cpu };
    } finally {
      unsubscribe();
    }
  }

  /** Stops the client then the server, killing either by PID if it lingers. */
  async stop(): Promise<void> {
    await this.client.stop().catch(() => this.client.kill());
    await this.server.stop().catch(() => this.server.kill());
  }

  /** Kills both processes at once. */
  kill(): void {
    this.client.kill();
    this.server.kill();
  }
}

import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { Worker } from 'node:worker_threads';
import { definePlugin, isRpcCode, RpcCode, RpcError, type Executor, type Invocation, type Logger, type Result } from '@plexus/kernel/spi';
import { ActiveCalls } from './active-calls';
import { ExecutorErrors, exhaustedError, integerOption, NOT_CLONEABLE_REASON, shuttingDownError, WORKER_FAILED_REASON } from './errors';
import type { WorkerCall, WorkerCancel, WorkerError, WorkerReply } from './worker-main';

/** Options of `WorkerExecutor`. */
export interface WorkerExecutorOptions {
  /** The service implementation: a CommonJS module path (absolute, or relative to the working directory). Required. */
  implementation?: string;
  /**
   * Worker threads. Default: available cores minus one (at least 1), leaving a core for the event
   * loop that does the network and serialization work.
   */
  threads?: number;
  /**
   * Calls that may wait beyond one per thread. Default 1000: CPU-bound calls queue cheaply in the
   * workers' inboxes, and beyond that latency is better spent failing over.
   */
  queues?: number;
}

interface Pending {
  resolve: (result: Result) => void;
  reject: (err: unknown) => void;
}

/** One worker thread and the calls it owes answers for. */
interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  ready: boolean;
  /** The uncaught error that is about to end the thread, if any. */
  crash?: Error;
}

function defaultThreads(): number {
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  return Math.max(1, cores - 1);
}

/** The compiled thread script: beside this file in dist, or in dist when running from sources. */
function workerScript(): string {
  const beside = join(__dirname, 'worker-main.js');
  if (existsSync(beside)) return beside;
  const built = join(__dirname, '..', 'dist', 'worker-main.js');
  if (existsSync(built)) return built;
  throw ExecutorErrors.WORKER_SCRIPT(beside);
}

function fromWorker(e: WorkerError): RpcError {
  const err = new RpcError(e.message, isRpcCode(e.code) ? e.code : RpcCode.SERVICE_ERROR, { reason: e.reason, data: e.data });
  if (e.name !== undefined && e.name !== 'Error' && e.name !== 'RpcError') err.remoteName = e.name;
  // The worker's stack says where the implementation failed; the one built here would not.
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/**
 * Runs the service implementation in a pool of worker threads, so CPU-bound methods do not block
 * the event loop that serves the network. Provider filters have already run on the event loop;
 * only the implementation runs here. Each worker loads the module in `implementation` and answers
 * calls by method name; `execute` ignores its `task` and posts the call (method, args, attachments,
 * deadline, remote address) to the least busy worker, which runs it inside a call context of its
 * own: `Plexus.context()` and its `signal` work there, and a cancel aborts that signal.
 * Arguments and results cross threads by structured clone.
 *
 * Business errors come back as `SERVICE_ERROR` with the original message and name; an `RpcError`
 * thrown on purpose keeps its code. A worker that dies fails its calls with `SERVER_ERROR` and is
 * replaced; one that cannot load the implementation fails every call until the executor is closed.
 * Threads start on the first call and do not keep the process alive while idle.
 * Scope: one instance per exported service; main thread only.
 */
export class WorkerExecutor implements Executor {
  readonly implementation: string;
  readonly threads: number;
  readonly queues: number;
  private readonly logger?: Logger;
  private slots: Slot[] = [];
  private started = false;
  private closed = false;
  /** Set when the implementation cannot be loaded: every call fails with it. */
  private broken?: WorkerError;
  private nextId = 1;
  private readonly calls = new ActiveCalls();

  constructor(options: WorkerExecutorOptions = {}, logger?: Logger) {
    const path = options.implementation;
    if (typeof path !== 'string' || path.trim() === '') throw ExecutorErrors.NO_IMPLEMENTATION();
    const absolute = isAbsolute(path) ? path : resolvePath(path);
    try {
      this.implementation = require.resolve(absolute);
    } catch (err) {
      throw ExecutorErrors.IMPLEMENTATION_NOT_FOUND(absolute, (err as Error).message.split('\n')[0]);
    }
    this.threads = integerOption('worker', 'threads', options.threads, defaultThreads(), 1);
    this.queues = integerOption('worker', 'queues', options.queues, 1000, 0);
    this.logger = logger;
  }

  /** Calls posted to workers and not answered yet. */
  get active(): number {
    return this.calls.count;
  }

  execute(invocation: Invocation, _task?: unknown): Promise<Result> {
    if (this.closed) return Promise.reject(shuttingDownError('worker'));
    if (this.broken) return Promise.reject(this.loadFailure(this.broken));
    if (this.calls.count >= this.threads + this.queues) {
      return Promise.reject(exhaustedError('worker', Math.min(this.calls.count, this.threads), Math.max(0, this.calls.count - this.threads)));
    }
    if (!this.started) this.start();
    const slot = this.leastBusy();
    const id = this.nextId++;
    const message: WorkerCall = {
      id,
      service: invocation.service,
      method: invocation.method,
      args: invocation.args,
      attachments: invocation.attachments,
      remoteAddress: invocation.remoteAddress,
      deadline: invocation.deadline,
    };
    try {
      slot.worker.postMessage(message);
    } catch (err) {
      return Promise.reject(
        new RpcError(`the arguments of ${invocation.method} cannot be sent to a worker thread: ${(err as Error).message}`, RpcCode.SERVER_ERROR, {
          reason: NOT_CLONEABLE_REASON,
        }),
      );
    }
    if (slot.pending.size === 0) slot.worker.ref();
    this.calls.enter();
    // The kernel's cancel (deadline, consumer abort) aborts the call's signal inside the worker.
    invocation.addCancelListener({
      onCancel: (reason) => {
        if (!slot.pending.has(id)) return;
        try {
          slot.worker.postMessage({ cancel: id, message: reason.message, code: reason.reason ?? reason.code } satisfies WorkerCancel);
        } catch {
          // the worker is gone; its exit fails the call
        }
      },
    });
    return new Promise<Result>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
    });
  }

  /** Resolves when no call is outstanding, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    return this.calls.drain(timeoutMs);
  }

  /** Terminates the workers; calls still outstanding fail with `SHUTTING_DOWN`. Drain first to avoid that. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const slots = this.slots;
    this.slots = [];
    for (const slot of slots) this.failAll(slot, () => shuttingDownError('worker'));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private start(): void {
    this.started = true;
    const script = workerScript();
    for (let i = 0; i < this.threads; i++) this.slots.push(this.spawn(script));
  }

  private spawn(script: string): Slot {
    const worker = new Worker(script, { workerData: { implementation: this.implementation } });
    const slot: Slot = { worker, pending: new Map(), ready: false };
    // Idle threads must not hold the process open; `execute` refs a thread while it owes answers.
    worker.unref();
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (err) => {
      slot.crash = err;
    });
    worker.on('exit', (code) => this.onExit(slot, script, code));
    return slot;
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if ('id' in reply) {
      const pending = slot.pending.get(reply.id);
      if (pending === undefined) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) slot.worker.unref();
      this.calls.leave();
      if ('error' in reply) pending.reject(fromWorker(reply.error));
      else pending.resolve(reply.attachments === undefined ? { value: reply.value } : { value: reply.value, attachments: reply.attachments });
    } else if ('ready' in reply) {
      slot.ready = true;
    } else if ('fatal' in reply) {
      this.broken = reply.fatal;
      this.logger?.error(`worker executor cannot load ${this.implementation}: ${reply.fatal.message}`);
    }
  }

  private onExit(slot: Slot, script: string, code: number): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (this.closed) return;
    if (!slot.ready && !this.broken) {
      // Died before loading the implementation: replacing it would only die again.
      this.broken = { message: slot.crash?.message ?? `worker thread exited with code ${code} while loading` };
    }
    if (this.broken) {
      const failure = this.broken;
      this.failAll(slot, () => this.loadFailure(failure));
      for (const other of this.slots.splice(0)) {
        this.failAll(other, () => this.loadFailure(failure));
        void other.worker.terminate();
      }
      return;
    }
    const cause = slot.crash ? `${slot.crash.name}: ${slot.crash.message}` : `exit code ${code}`;
    this.logger?.warn(`worker thread died (${cause}); starting a new one`, { implementation: this.implementation });
    this.failAll(
      slot,
      () =>
        new RpcError(`the worker thread running the call died (${cause})`, RpcCode.SERVER_ERROR, {
          reason: WORKER_FAILED_REASON,
        }),
    );
    this.slots.push(this.spawn(script));
  }

  private failAll(slot: Slot, error: () => RpcError): void {
    for (const pending of slot.pending.values()) {
      this.calls.leave();
      pending.reject(error());
    }
    slot.pending.clear();
  }

  private leastBusy(): Slot {
    const slots = this.slots;
    let best = slots[0];
    for (let i = 1; i < slots.length && best.pending.size > 0; i++) if (slots[i].pending.size < best.pending.size) best = slots[i];
    return best;
  }

  private loadFailure(failure: WorkerError): RpcError {
    return new RpcError(
      `the worker executor could not load the implementation ${this.implementation}: ${failure.message}` +
        '\n  hint: check that the module loads with plain `node -e "require(<path>)"` and exports the service object or class.',
      RpcCode.SERVER_ERROR,
      { reason: WORKER_FAILED_REASON },
    );
  }
}

const schema = {
  type: 'object',
  properties: {
    implementation: { type: 'string', minLength: 1 },
    threads: { type: 'integer', minimum: 1 },
    queues: { type: 'integer', minimum: 0 },
  },
};

export default definePlugin({
  name: '@plexus/executor',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'executor',
      name: 'worker',
      optionsSchema: schema,
      create: (ctx) =>
        new WorkerExecutor(
          {
            implementation: ctx.options.implementation as string | undefined,
            threads: ctx.options.threads as number | undefined,
            queues: ctx.options.queues as number | undefined,
          },
          ctx.logger,
        ),
    },
  ],
});

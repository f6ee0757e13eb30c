/**
 * The script each worker thread of `WorkerExecutor` runs: load the implementation named in
 * `workerData.implementation` and build its method table (the kernel's, so the same methods are
 * callable as on the event loop), say `ready`, then answer every `{ id, method, args, ... }` with
 * `{ id, value }` or `{ id, error }`. Each call runs inside a rebuilt call context — service,
 * method, attachments, remote address, deadline and an AbortSignal that a `{ cancel: id }`
 * message aborts — so `Plexus.context()` works in the worker as on the event loop. Business
 * errors come back with their code and `data`. Calls may overlap when methods are async.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MethodTable, RpcCode, RpcError, runInCallContext, serviceError, type CallContext } from '@plexus/kernel/spi';
import { loadImplementation } from './implementation';

/** A call posted by the executor. */
export interface WorkerCall {
  id: number;
  service: string;
  method: string;
  args: unknown[];
  attachments: Record<string, string>;
  remoteAddress?: string;
  /** Epoch ms; 0 = none. */
  deadline: number;
}

/** The executor gave up on a call (deadline, consumer cancel): its signal aborts. */
export interface WorkerCancel {
  cancel: number;
  message: string;
  code: string;
}

/** An error as it crosses the thread boundary. */
export interface WorkerError {
  message: string;
  name?: string;
  code?: string;
  reason?: string;
  data?: Record<string, unknown>;
  stack?: string;
}

/** What a worker posts back. */
export type WorkerReply = { id: number; value: unknown; attachments?: Record<string, string> } | { id: number; error: WorkerError } | { ready: true } | { fatal: WorkerError };

function describe(err: unknown): WorkerError {
  const e = serviceError(err);
  return { message: e.message, code: e.code, reason: e.reason, name: e.remoteName, data: e.data, stack: e.stack };
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('worker-main.js runs only as a worker thread of @plexus/executor');
  const implementationPath = String((workerData as { implementation: string }).implementation);
  let table: MethodTable;
  try {
    const implementation = loadImplementation(implementationPath);
    table = new MethodTable(implementationPath, implementation);
  } catch (err) {
    // No listener is attached, so the thread ends after reporting.
    port.postMessage({ fatal: describe(err) } satisfies WorkerReply);
    return;
  }
  const running = new Map<number, AbortController>();

  const answer = (id: number, value: unknown, attachments: Record<string, string> | undefined) => {
    running.delete(id);
    try {
      port.postMessage({ id, value, attachments } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({
        id,
        error: {
          message: `the result cannot be sent back from the worker thread: ${(err as Error).message}`,
          code: 'SERVER_ERROR',
          reason: 'PLEXUS_ERR_EXECUTOR_NOT_CLONEABLE',
        },
      } satisfies WorkerReply);
    }
  };
  const fail = (id: number, err: unknown) => {
    running.delete(id);
    port.postMessage({ id, error: describe(err) } satisfies WorkerReply);
  };

  port.on('message', (msg: WorkerCall | WorkerCancel) => {
    if ('cancel' in msg) {
      running.get(msg.cancel)?.abort(new RpcError(msg.message, RpcCode.CANCELLED, { reason: msg.code }));
      return;
    }
    const call = msg;
    const method = table.get(call.method);
    if (method === undefined) {
      fail(
        call.id,
        new RpcError(`method "${call.method}" is not declared by the implementation (declared: ${table.names.join(', ') || 'none'})`, RpcCode.METHOD_NOT_FOUND),
      );
      return;
    }
    const controller = new AbortController();
    running.set(call.id, controller);
    // What the method sets in responseAttachments goes back with its answer.
    let replyAttachments: Record<string, string> | undefined;
    const context: CallContext = {
      service: call.service,
      method: call.method,
      attachments: call.attachments,
      remoteAddress: call.remoteAddress,
      deadline: call.deadline,
      signal: controller.signal,
      get responseAttachments() {
        return (replyAttachments ??= {});
      },
    };
    let out: unknown;
    try {
      out = runInCallContext(context, () => method.apply(undefined, call.args));
    } catch (err) {
      fail(call.id, err);
      return;
    }
    Promise.resolve(out).then(
      (value) => answer(call.id, value, replyAttachments),
      (err: unknown) => fail(call.id, err),
    );
  });
  port.postMessage({ ready: true } satisfies WorkerReply);
}

main();

/**
 * The script each worker thread of `WorkerExecutor` runs: load the implementation named in
 * `workerData.implementation`, say `ready`, then answer every `{ id, method, args }` with
 * `{ id, value }` or `{ id, error }`. Calls may overlap when methods are async.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadImplementation, methodTable, type Method } from './implementation';

/** A call posted by the executor. */
export interface WorkerCall {
  id: number;
  method: string;
  args: unknown[];
  attachments: Record<string, string>;
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
export type WorkerReply = { id: number; value: unknown } | { id: number; error: WorkerError } | { ready: true } | { fatal: WorkerError };

const RPC_ERROR = Symbol.for('plexus.RpcError');

function describe(err: unknown): WorkerError {
  if (typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[RPC_ERROR] === true) {
    // An RpcError thrown on purpose by the implementation keeps its code.
    const e = err as { message: string; code: string; reason?: string; remoteName?: string; data?: Record<string, unknown>; stack?: string };
    return { message: e.message, code: e.code, reason: e.reason, name: e.remoteName, data: e.data, stack: e.stack };
  }
  if (err instanceof Error) return { message: err.message, name: err.name, stack: err.stack };
  return { message: typeof err === 'string' ? err : `non-error thrown: ${String(err)}` };
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('worker-main.js runs only as a worker thread of @plexus/executor');
  let implementation: object;
  let methods: Map<string, Method>;
  try {
    implementation = loadImplementation(String((workerData as { implementation: string }).implementation));
    methods = methodTable(implementation);
  } catch (err) {
    // No listener is attached, so the thread ends after reporting.
    port.postMessage({ fatal: describe(err) } satisfies WorkerReply);
    return;
  }

  const answer = (id: number, value: unknown) => {
    try {
      port.postMessage({ id, value } satisfies WorkerReply);
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
  const fail = (id: number, err: unknown) => port.postMessage({ id, error: describe(err) } satisfies WorkerReply);

  port.on('message', (call: WorkerCall) => {
    const method = methods.get(call.method);
    if (method === undefined) {
      fail(call.id, {
        [RPC_ERROR]: true,
        code: 'METHOD_NOT_FOUND',
        message: `method "${call.method}" is not declared by the implementation (declared: ${[...methods.keys()].join(', ') || 'none'})`,
      });
      return;
    }
    let out: unknown;
    try {
      out = method.apply(implementation, call.args);
    } catch (err) {
      fail(call.id, err);
      return;
    }
    if (typeof out === 'object' && out !== null && typeof (out as PromiseLike<unknown>).then === 'function') {
      (out as PromiseLike<unknown>).then(
        (value) => answer(call.id, value),
        (err: unknown) => fail(call.id, err),
      );
    } else {
      answer(call.id, out);
    }
  });
  port.postMessage({ ready: true } satisfies WorkerReply);
}

main();

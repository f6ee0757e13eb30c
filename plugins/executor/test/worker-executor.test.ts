import { join } from 'node:path';
import { executorContract, fakeExtensionContext, fakeInvocation } from '@plexus/kernel/testing';
import { PlexusError, RpcCode, RpcError } from '@plexus/kernel/spi';
import plugin, { WorkerExecutor } from '../src/worker-executor';
import { NOT_CLONEABLE_REASON, WORKER_FAILED_REASON } from '../src/errors';

// The worker threads run dist/worker-main.js: build the package first (npx tsc -b plugins/executor).
const fixture = (name: string) => join(__dirname, 'fixtures', name);

executorContract('worker', () => new WorkerExecutor({ implementation: fixture('contract-service.js'), threads: 2 }));

const call = (method: string, ...args: unknown[]) => fakeInvocation({ method, args, settings: { timeout: 0 } });
const noTask = () => Promise.reject(new Error('the worker executor must not run the task'));

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: RpcError) => e,
  );
}

describe('WorkerExecutor', () => {
  let executor: WorkerExecutor | undefined;
  const open = (options: ConstructorParameters<typeof WorkerExecutor>[0]) => (executor = new WorkerExecutor(options));

  afterEach(async () => {
    await executor?.close();
    executor = undefined;
  });

  it('is the plugin default export under executor/worker, built from options', async () => {
    const def = plugin.extensions[0];
    expect(def).toMatchObject({ point: 'executor', name: 'worker' });
    executor = def.create(fakeExtensionContext({ implementation: fixture('contract-service.js'), threads: 1, queues: 3 })) as WorkerExecutor;
    expect([executor.threads, executor.queues]).toEqual([1, 3]);
  });

  it('defaults to one thread per core but one, at least 1, and 1000 queued calls', () => {
    const ex = new WorkerExecutor({ implementation: fixture('contract-service.js') });
    expect(ex.threads).toBeGreaterThanOrEqual(1);
    expect(ex.queues).toBe(1000);
  });

  it('runs a CPU-bound method of a class in a worker thread and returns its result', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
    await expect(ex.execute(call('fib', 20), noTask)).resolves.toEqual({ value: 6765 });
    const thread = await ex.execute(call('thread'), noTask);
    expect(thread.value).not.toBe(0);
    expect(ex.active).toBe(0);
  });

  it('sends back the attachments the method set in Plexus.context().responseAttachments', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
    const r = await ex.execute(call('tagged', 'v'), noTask);
    expect(r.value).toBe('v');
    expect(Number(r.attachments?.thread)).toBeGreaterThan(0);
    expect(await ex.execute(call('fib', 3), noTask)).not.toHaveProperty('attachments');
  });

  it('awaits async methods', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
    const results = await Promise.all([3, 4, 5].map((x) => ex.execute(call('squareLater', x), noTask)));
    expect(results.map((r) => r.value)).toEqual([9, 16, 25]);
  });

  it('spreads calls over its threads', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 2 });
    const threads = await Promise.all(Array.from({ length: 4 }, () => ex.execute(call('thread'), noTask)));
    expect(new Set(threads.map((r) => r.value)).size).toBe(2);
  });

  it('returns a thrown error as SERVICE_ERROR with the original message and name', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
    const err = await failure(ex.execute(call('validate', ''), noTask));
    expect(RpcError.is(err)).toBe(true);
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
    expect(err.retryable).toBe(false);
    expect(err.message).toBe('name must not be empty');
    expect(err.remoteName).toBe('ValidationError');
  });

  it('loads a default export', async () => {
    const ex = open({ implementation: fixture('default-export.js'), threads: 1 });
    await expect(ex.execute(call('ping'), noTask)).resolves.toEqual({ value: 'pong' });
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'calls', 'nope'])(
    'refuses %s, which the implementation does not declare, with METHOD_NOT_FOUND',
    async (method) => {
      const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
      const err = await failure(ex.execute(call(method), noTask));
      expect(err.code).toBe(RpcCode.METHOD_NOT_FOUND);
      expect(err.message).toContain('fib');
    },
  );

  it('reports a result that cannot cross threads', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
    const err = await failure(ex.execute(call('unsendable'), noTask));
    expect(err.code).toBe(RpcCode.SERVER_ERROR);
    expect(err.reason).toBe(NOT_CLONEABLE_REASON);
  });

  it('reports arguments that cannot cross threads', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
    const err = await failure(ex.execute(call('fib', () => 1), noTask));
    expect(err.code).toBe(RpcCode.SERVER_ERROR);
    expect(err.reason).toBe(NOT_CLONEABLE_REASON);
    expect(ex.active).toBe(0);
  });

  it('rejects calls beyond threads + queues with EXECUTOR_EXHAUSTED', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1, queues: 1 });
    void ex.execute(call('hang'), noTask).catch(() => undefined);
    void ex.execute(call('hang'), noTask).catch(() => undefined);
    const err = await failure(ex.execute(call('fib', 1), noTask));
    expect(err.code).toBe(RpcCode.EXECUTOR_EXHAUSTED);
    expect(err.retryable).toBe(true);
  });

  it('fails the calls of a worker that dies with SERVER_ERROR and replaces it', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
    await expect(ex.execute(call('fib', 5), noTask)).resolves.toEqual({ value: 5 });
    const err = await failure(ex.execute(call('crash'), noTask));
    expect(err.code).toBe(RpcCode.SERVER_ERROR);
    expect(err.reason).toBe(WORKER_FAILED_REASON);
    expect(err.message).toContain('worker blew up');
    await expect(ex.execute(call('fib', 6), noTask)).resolves.toEqual({ value: 8 });
  });

  it('fails every call with SERVER_ERROR when the implementation cannot load', async () => {
    const ex = open({ implementation: fixture('broken-service.js'), threads: 2 });
    const err = await failure(ex.execute(call('anything'), noTask));
    expect(err.code).toBe(RpcCode.SERVER_ERROR);
    expect(err.reason).toBe(WORKER_FAILED_REASON);
    expect(err.message).toContain('cannot start: missing config');
    const again = await failure(ex.execute(call('anything'), noTask));
    expect(again.reason).toBe(WORKER_FAILED_REASON);
    expect(ex.active).toBe(0);
  });

  it('fails when the module exports a plain function', async () => {
    const ex = open({ implementation: fixture('function-export.js'), threads: 1 });
    const err = await failure(ex.execute(call('greet'), noTask));
    expect(err.message).toContain('plain function');
  });

  it('needs an implementation module path (coded error)', () => {
    expect(() => new WorkerExecutor({})).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_EXECUTOR_NO_IMPLEMENTATION' }));
    try {
      new WorkerExecutor({});
    } catch (err) {
      expect(PlexusError.is(err)).toBe(true);
      expect((err as Error).message).toContain('implementation:');
    }
  });

  it('says which implementation path it cannot find', () => {
    const missing = fixture('no-such-service.js');
    expect(() => new WorkerExecutor({ implementation: missing })).toThrow(
      expect.objectContaining({ code: 'PLEXUS_ERR_EXECUTOR_IMPLEMENTATION_NOT_FOUND' }),
    );
  });

  it('close fails outstanding calls with SHUTTING_DOWN and refuses new ones', async () => {
    const ex = open({ implementation: fixture('cpu-service.js'), threads: 1 });
    const hanging = failure(ex.execute(call('hang'), noTask));
    await ex.close();
    expect((await hanging).code).toBe(RpcCode.SHUTTING_DOWN);
    await expect(ex.execute(call('fib', 1), noTask)).rejects.toMatchObject({ code: RpcCode.SHUTTING_DOWN });
    expect(ex.active).toBe(0);
  });
});

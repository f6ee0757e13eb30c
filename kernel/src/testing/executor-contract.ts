import type { Executor } from '../spi/executor';
import type { Invocation } from '../spi/invocation';
import type { Result } from '../spi/result';
import { RpcCode, RpcError } from '../errors/rpc-error';
import { fakeInvocation } from './fakes';

/**
 * The service the executor contract calls: `echo(x)` answers `x`, `fail(message)` throws a business
 * error with that message. Executors that run `task` get this task; executors that run the
 * implementation themselves (a worker pool) must be created over an implementation with the same
 * two methods.
 */
export function contractTask(invocation: Invocation): Promise<Result> {
  if (invocation.method === 'echo') return Promise.resolve({ value: invocation.args[0] });
  if (invocation.method === 'fail') {
    return Promise.reject(new RpcError(String(invocation.args[0]), RpcCode.SERVICE_ERROR));
  }
  return Promise.reject(new RpcError(`no method ${invocation.method}`, RpcCode.METHOD_NOT_FOUND));
}

/**
 * The behaviour every executor shares. Call it at the top level of a test file:
 * `executorContract('limited', () => new LimitedExecutor({ threads: 4 }))`. `create` runs once per
 * test and the executor is closed after it. Calls stay within 20 at a time.
 */
export function executorContract(name: string, create: () => Executor | Promise<Executor>): void {
  describe(`executor contract: ${name}`, () => {
    let executor: Executor | undefined;
    const make = async () => (executor = await create());
    const call = (ex: Executor, method: string, ...args: unknown[]) =>
      ex.execute(fakeInvocation({ method, args, settings: { timeout: 0 } }), contractTask);

    afterEach(async () => {
      await executor?.close?.();
      executor = undefined;
    });

    it('runs a task and returns its result', async () => {
      const ex = await make();
      await expect(call(ex, 'echo', { n: 42 })).resolves.toEqual({ value: { n: 42 } });
    });

    it('propagates a rejection with its code and message', async () => {
      const ex = await make();
      const err = await call(ex, 'fail', 'out of stock').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(RpcError.is(err)).toBe(true);
      expect((err as RpcError).code).toBe(RpcCode.SERVICE_ERROR);
      expect((err as RpcError).message).toContain('out of stock');
    });

    it('counts running calls in active and goes back to 0', async () => {
      const ex = await make();
      expect(ex.active).toBe(0);
      const ok = call(ex, 'echo', 1);
      const failed = call(ex, 'fail', 'no').catch(() => undefined);
      expect(ex.active).toBeGreaterThan(0);
      await Promise.all([ok, failed]);
      expect(ex.active).toBe(0);
    });

    it('serves concurrent calls, each with its own answer', async () => {
      const ex = await make();
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => call(ex, 'echo', i)));
      expect(values.map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(ex.active).toBe(0);
    });

    it('drains: resolves once running calls are done', async () => {
      const ex = await make();
      if (!ex.drain) return expect(ex.drain).toBeUndefined();
      await ex.drain(1000);
      const pending = call(ex, 'echo', 'late');
      await ex.drain(10_000);
      expect(ex.active).toBe(0);
      await expect(pending).resolves.toEqual({ value: 'late' });
    });
  });
}

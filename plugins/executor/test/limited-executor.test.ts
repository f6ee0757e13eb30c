import { executorContract, fakeInvocation } from '@plexus/kernel/testing';
import { PlexusError, RpcCode, RpcError, type Result } from '@plexus/kernel/spi';
import plugin, { LimitedExecutor } from '../src/limited-executor';
import { EXHAUSTED_REASON } from '../src/errors';

executorContract('limited (defaults)', () => new LimitedExecutor());
executorContract('limited (2 threads, queued)', () => new LimitedExecutor({ threads: 2, queues: 100 }));

/** A task that stays pending until the test releases it. */
function gate() {
  const releases: Array<() => void> = [];
  const started: string[] = [];
  const task = (inv: { args: unknown[] }) =>
    new Promise<Result>((resolve) => {
      started.push(String(inv.args[0]));
      releases.push(() => resolve({ value: inv.args[0] }));
    });
  const releaseOne = () => releases.shift()?.();
  return { task, started, releaseOne };
}

const call = (name: string) => fakeInvocation({ args: [name], settings: { timeout: 0 } });

describe('LimitedExecutor', () => {
  it('is the plugin default export under executor/limited, built from options', () => {
    const def = plugin.extensions[0];
    expect(def).toMatchObject({ point: 'executor', name: 'limited' });
    const ex = def.create({ options: { threads: 3, queues: 7 } } as never) as LimitedExecutor;
    expect([ex.threads, ex.queues]).toEqual([3, 7]);
  });

  it('defaults to 200 threads and no queue', () => {
    const ex = new LimitedExecutor();
    expect([ex.threads, ex.queues]).toEqual([200, 0]);
  });

  it('rejects the call over the limit with a retryable EXECUTOR_EXHAUSTED, reason and hint', async () => {
    const ex = new LimitedExecutor({ threads: 2 });
    const g = gate();
    const first = ex.execute(call('a'), g.task);
    const second = ex.execute(call('b'), g.task);
    const err = await ex.execute(call('c'), g.task).catch((e: RpcError) => e);
    expect(RpcError.is(err)).toBe(true);
    expect((err as RpcError).code).toBe(RpcCode.EXECUTOR_EXHAUSTED);
    expect((err as RpcError).retryable).toBe(true);
    expect((err as RpcError).reason).toBe(EXHAUSTED_REASON);
    expect((err as RpcError).message).toContain('hint:');
    expect(g.started).toEqual(['a', 'b']);
    g.releaseOne();
    g.releaseOne();
    await Promise.all([first, second]);
    // Room again once calls finish.
    const third = ex.execute(call('d'), g.task);
    g.releaseOne();
    await expect(third).resolves.toEqual({ value: 'd' });
  });

  it('queues up to `queues` calls and runs them in arrival order as slots free up', async () => {
    const ex = new LimitedExecutor({ threads: 1, queues: 2 });
    const g = gate();
    const results = ['a', 'b', 'c'].map((n) => ex.execute(call(n), g.task));
    await expect(ex.execute(call('d'), g.task)).rejects.toMatchObject({ code: RpcCode.EXECUTOR_EXHAUSTED });
    expect(ex.active).toBe(1);
    expect(ex.waiting).toBe(2);
    expect(g.started).toEqual(['a']);
    g.releaseOne();
    await results[0];
    expect(g.started).toEqual(['a', 'b']);
    g.releaseOne();
    await results[1];
    g.releaseOne();
    await expect(results[2]).resolves.toEqual({ value: 'c' });
    expect(g.started).toEqual(['a', 'b', 'c']);
    expect([ex.active, ex.waiting]).toEqual([0, 0]);
  });

  it('answers a waiting call whose deadline passed with SERVER_TIMEOUT instead of running it', async () => {
    const ex = new LimitedExecutor({ threads: 1, queues: 1 });
    const g = gate();
    const running = ex.execute(call('a'), g.task);
    const late = fakeInvocation({ args: ['late'], deadline: Date.now() - 1 });
    const waiting = ex.execute(late, g.task);
    g.releaseOne();
    await running;
    await expect(waiting).rejects.toMatchObject({ code: RpcCode.SERVER_TIMEOUT });
    expect(g.started).toEqual(['a']);
    expect(ex.active).toBe(0);
  });

  it('drain waits for waiting calls as well as running ones', async () => {
    const ex = new LimitedExecutor({ threads: 1, queues: 1 });
    const task = async (inv: { args: unknown[] }) => ({ value: inv.args[0] });
    const a = ex.execute(call('a'), task);
    const b = ex.execute(call('b'), task);
    await ex.drain(10_000);
    expect([ex.active, ex.waiting]).toEqual([0, 0]);
    await expect(Promise.all([a, b])).resolves.toEqual([{ value: 'a' }, { value: 'b' }]);
  });

  it('close refuses new calls and answers waiting ones SHUTTING_DOWN', async () => {
    const ex = new LimitedExecutor({ threads: 1, queues: 1 });
    const g = gate();
    const running = ex.execute(call('a'), g.task);
    const waiting = ex.execute(call('b'), g.task);
    await ex.close();
    await expect(waiting).rejects.toMatchObject({ code: RpcCode.SHUTTING_DOWN, retryable: true });
    await expect(ex.execute(call('c'), g.task)).rejects.toMatchObject({ code: RpcCode.SHUTTING_DOWN });
    g.releaseOne();
    await expect(running).resolves.toEqual({ value: 'a' });
  });

  it('keeps its counts right when a task throws synchronously', async () => {
    const ex = new LimitedExecutor({ threads: 1, queues: 1 });
    const boom = () => {
      throw new RpcError('sync', RpcCode.SERVICE_ERROR);
    };
    await expect(ex.execute(call('a'), boom)).rejects.toMatchObject({ message: 'sync' });
    expect(ex.active).toBe(0);
    await expect(ex.execute(call('b'), async () => ({ value: 'fine' }))).resolves.toEqual({ value: 'fine' });
  });

  it('stays correct through many queued calls (queue compaction)', async () => {
    const ex = new LimitedExecutor({ threads: 3, queues: 5000 });
    const task = async (inv: { args: unknown[] }) => ({ value: inv.args[0] });
    const all = Array.from({ length: 3000 }, (_, i) => ex.execute(fakeInvocation({ args: [i], settings: { timeout: 0 } }), task));
    const values = (await Promise.all(all)).map((r) => r.value);
    expect(values).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect([ex.active, ex.waiting]).toEqual([0, 0]);
  });

  it.each([
    [{ threads: 0 }, 'threads'],
    [{ threads: 1.5 }, 'threads'],
    [{ queues: -1 }, 'queues'],
    [{ queues: 'many' }, 'queues'],
  ])('rejects bad options %j with PLEXUS_ERR_EXECUTOR_OPTIONS', (options, key) => {
    expect(() => new LimitedExecutor(options as never)).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_EXECUTOR_OPTIONS' }));
    try {
      new LimitedExecutor(options as never);
    } catch (err) {
      expect(PlexusError.is(err)).toBe(true);
      expect((err as Error).message).toContain(key);
    }
  });

  it('accepts numbers written as strings, as environment variables give them', () => {
    const ex = new LimitedExecutor({ threads: '8' as never, queues: '16' as never });
    expect([ex.threads, ex.queues]).toEqual([8, 16]);
  });
});

describe('limited executor: async context of queued calls', () => {
  it('a queued call runs in its own async context, not in that of the call whose end started it', async () => {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const als = new AsyncLocalStorage<string>();
    const ex = new LimitedExecutor({ threads: 1, queues: 4 });
    let release!: () => void;
    const seen: Array<string | undefined> = [];
    const inv = fakeInvocation();
    const first = als.run('A', () =>
      ex.execute(inv, () => new Promise<Result>((r) => (release = () => r({ value: 'a' })))),
    );
    const second = als.run('B', () =>
      ex.execute(inv, async () => {
        seen.push(als.getStore());
        return { value: 'b' };
      }),
    );
    als.run('C', () => release());
    await Promise.all([first, second]);
    expect(seen).toEqual(['B']);
  });
});

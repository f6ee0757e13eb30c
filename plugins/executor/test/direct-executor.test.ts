import { executorContract, fakeInvocation } from '@plexus/kernel/testing';
import { RpcCode, RpcError } from '@plexus/kernel/spi';
import plugin, { DirectExecutor } from '../src/direct-executor';

executorContract('direct', () => new DirectExecutor());

describe('DirectExecutor', () => {
  it('is the plugin default export under executor/direct', () => {
    expect(plugin.extensions[0]).toMatchObject({ point: 'executor', name: 'direct' });
    expect(plugin.extensions[0].create({} as never)).toBeInstanceOf(DirectExecutor);
  });

  it('runs the task synchronously, before execute returns', () => {
    const ex = new DirectExecutor();
    let ran = false;
    void ex.execute(fakeInvocation(), async () => {
      ran = true;
      return { value: 1 };
    });
    expect(ran).toBe(true);
  });

  it('turns a task that throws synchronously into a rejection and keeps its count right', async () => {
    const ex = new DirectExecutor();
    const error = new RpcError('bad', RpcCode.SERVICE_ERROR);
    const task = () => {
      throw error;
    };
    await expect(ex.execute(fakeInvocation(), task)).rejects.toBe(error);
    expect(ex.active).toBe(0);
  });

  it('drain gives up after its timeout when a call never ends', async () => {
    const ex = new DirectExecutor();
    void ex.execute(fakeInvocation(), () => new Promise(() => {}));
    await ex.drain(5);
    expect(ex.active).toBe(1);
  });
});

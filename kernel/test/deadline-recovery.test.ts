import { Plexus, definePlugin, RpcCode, type Filter, type Invocation, type Invoker } from '../src';
import type { RpcError } from '../src/errors/rpc-error';

/** A consumer filter that answers a call its deadline cut short, as a mock or failsafe does. */
function recovering(answer: unknown): Filter {
  return {
    invoke(next: Invoker, inv: Invocation) {
      inv.addCancelListener({
        onCancel(reason: RpcError) {
          if (reason.code === RpcCode.TIMEOUT) inv.recover({ value: answer });
        },
      });
      return next.invoke(inv);
    },
  };
}

async function appWith(filter: string[], timeout: number) {
  const app = Plexus.create({
    application: { name: 'recovery' },
    protocol: { name: 'injvm' },
    references: { slow: { interface: 'r.Slow', filter, timeout } },
  });
  app.use(
    definePlugin({
      name: 'test-recovery',
      extensions: [{ point: 'filter', name: 'recovering', create: () => recovering('from the fallback') }],
    }),
  );
  app.provide({ interface: 'r.Slow' }, {
    wait(ms: number) {
      return new Promise((resolve) => setTimeout(() => resolve('in time'), ms));
    },
  });
  await app.start();
  return app;
}

describe('recovery at the deadline', () => {
  it('resolves the caller with what a cancel listener recovered, at the deadline', async () => {
    const app = await appWith(['recovering'], 50);
    try {
      const slow = app.reference<{ wait(ms: number): Promise<string> }>('slow');
      const started = Date.now();
      await expect(slow.wait(2000)).resolves.toBe('from the fallback');
      expect(Date.now() - started).toBeLessThan(1000);
      await expect(slow.wait(1)).resolves.toBe('in time');
    } finally {
      await app.stop();
    }
  });

  it('without a recovering layer the caller gets TIMEOUT', async () => {
    const app = await appWith([], 50);
    try {
      const slow = app.reference<{ wait(ms: number): Promise<string> }>('slow');
      await expect(slow.wait(2000)).rejects.toMatchObject({ code: RpcCode.TIMEOUT });
    } finally {
      await app.stop();
    }
  });

  it('a caller that aborts gets CANCELLED even when a layer would recover', async () => {
    const app = await appWith(['recovering'], 5000);
    try {
      const slow = app.reference<{ wait(ms: number): Promise<string> }>('slow');
      const ac = new AbortController();
      const call = Plexus.withCallOptions({ signal: ac.signal }, () => slow.wait(2000));
      setTimeout(() => ac.abort(), 20);
      await expect(call).rejects.toMatchObject({ code: RpcCode.CANCELLED });
    } finally {
      await app.stop();
    }
  });
});

import { Plexus, RpcCode, type RpcError } from '../src';
import { rejectionOf } from '../src/testing';

/** A provider whose `slow` method records the signal it was given and how the call ended. */
function slowService(record: { signal?: AbortSignal; aborted?: unknown }) {
  return {
    async slow(ms: number) {
      const ctx = Plexus.context();
      record.signal = ctx.signal;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          record.aborted = ctx.signal.reason;
          clearTimeout(t);
          resolve();
        });
      });
      return 'done';
    },
  };
}

/** The error a call rejects with (undefined when it resolved: the assertions then fail). */
const rejection = async (p: Promise<unknown>) => (await rejectionOf(p)) as RpcError;

const quiet = { logLevel: 'silent' as const, protocols: [{ name: 'injvm' }], application: { name: 'deadlines' } };

describe('deadlines and cancellation (injvm)', () => {
  it('a call with timeout 40 to a 400 ms method fails with TIMEOUT well before the method ends, and the provider signal aborts', async () => {
    const record: { signal?: AbortSignal; aborted?: unknown } = {};
    const app = Plexus.create({ ...quiet, provider: { timeout: 0 } });
    app.provide({ interface: 'd.Slow' }, slowService(record));
    await app.start();
    const started = Date.now();
    const err = await rejection(app.refer<{ slow(ms: number): string }>({ interface: 'd.Slow', timeout: 40, retries: 0 }).slow(400));
    const took = Date.now() - started;
    expect(err.code).toBe(RpcCode.TIMEOUT);
    expect(err.reason).toBe('PLEXUS_ERR_CALL_TIMEOUT');
    expect(took).toBeLessThan(100);
    expect(record.signal?.aborted).toBe(true);
    await app.stop();
  });

  it('the provider timeout ends a 600 ms call with SERVER_TIMEOUT and aborts the implementation signal', async () => {
    const record: { signal?: AbortSignal; aborted?: unknown } = {};
    const app = Plexus.create({ ...quiet, consumer: { timeout: 5000, retries: 0 } });
    app.provide({ interface: 'd.Slow', timeout: 150 }, slowService(record));
    await app.start();
    const started = Date.now();
    const err = await rejection(app.refer<{ slow(ms: number): string }>({ interface: 'd.Slow' }).slow(600));
    expect(err.code).toBe(RpcCode.SERVER_TIMEOUT);
    expect(Date.now() - started).toBeLessThan(500);
    expect(record.signal?.aborted).toBe(true);
    expect((record.aborted as RpcError).code).toBe(RpcCode.SERVER_TIMEOUT);
    await app.stop();
  });

  it('a method-level provider timeout wins over the service one', async () => {
    const record: { signal?: AbortSignal } = {};
    const app = Plexus.create({ ...quiet, consumer: { timeout: 5000, retries: 0 } });
    app.provide({ interface: 'd.Slow', timeout: 5000, methods: { slow: { timeout: 50 } } }, slowService(record));
    await app.start();
    const err = await rejection(app.refer<{ slow(ms: number): string }>({ interface: 'd.Slow' }).slow(1000));
    expect(err.code).toBe(RpcCode.SERVER_TIMEOUT);
    await app.stop();
  });

  it('a consumer AbortSignal cancels the call (CANCELLED) and aborts the provider signal', async () => {
    const record: { signal?: AbortSignal; aborted?: unknown } = {};
    const app = Plexus.create({ ...quiet, provider: { timeout: 0 } });
    app.provide({ interface: 'd.Slow' }, slowService(record));
    await app.start();
    const ref = app.refer<{ slow(ms: number): string }>({ interface: 'd.Slow', timeout: 5000 });
    const controller = new AbortController();
    const call = Plexus.withCallOptions({ signal: controller.signal }, () => ref.slow(2000));
    setTimeout(() => controller.abort(), 30);
    const err = await rejection(call);
    expect(err.code).toBe(RpcCode.CANCELLED);
    expect(record.signal?.aborted).toBe(true);
    await app.stop();
  });

  it('withCallOptions sets the budget and attachments of calls made inside, and nests', async () => {
    const app = Plexus.create({ ...quiet, provider: { timeout: 0 } });
    app.provide({ interface: 'd.Ctx' }, { seen: () => ({ a: Plexus.context().attachments, deadline: Plexus.context().deadline }) });
    await app.start();
    const ref = app.refer<{ seen(): { a: Record<string, string>; deadline: number } }>({ interface: 'd.Ctx', timeout: 60000 });
    const before = Date.now();
    const out = await Plexus.withCallOptions({ attachments: { x: '1' }, timeout: 500 }, () =>
      Plexus.withAttachments({ y: '2' }, () => ref.seen()),
    );
    expect(out.a).toMatchObject({ x: '1', y: '2' });
    expect(out.deadline).toBeGreaterThanOrEqual(before + 400);
    expect(out.deadline).toBeLessThanOrEqual(Date.now() + 500);
    await app.stop();
  });

  it('Plexus.context() outside a call is a coded error; currentContext() is undefined', () => {
    expect(() => Plexus.context()).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_APP_NO_CONTEXT' }));
    expect(Plexus.currentContext()).toBeUndefined();
  });

  it('business errors keep name, code and message whatever was thrown', async () => {
    const hostileName = new Error('boom');
    Object.defineProperty(hostileName, 'name', { get: () => { throw new Error('no name for you'); } });
    const app = Plexus.create({ ...quiet });
    app.provide({ interface: 'd.Err' }, {
      plain: () => { throw { code: 'E42', message: 'plain object' }; },
      named: () => { throw hostileName; },
      badThen: () => ({ then: () => { throw Object.create(null); } }),
      sym: () => { throw Symbol('s'); },
    });
    await app.start();
    const ref = app.refer<Record<string, () => Promise<unknown>>>({ interface: 'd.Err', retries: 0 });
    const plain = await rejection(ref.plain());
    expect(plain.code).toBe(RpcCode.SERVICE_ERROR);
    expect(plain.message).toBe('plain object');
    expect(plain.data).toEqual({ code: 'E42' });
    expect((await rejection(ref.named())).message).toBe('boom');
    expect((await rejection(ref.badThen())).code).toBe(RpcCode.SERVICE_ERROR);
    expect((await rejection(ref.sym())).message).toBe('Symbol(s)');
    await app.stop();
  });
});

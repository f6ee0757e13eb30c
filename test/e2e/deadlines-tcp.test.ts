import * as path from 'node:path';
import { Plexus, RpcCode, type RpcError } from '@plexus/kernel';
import { rejectionOf } from '@plexus/kernel/testing';

/**
 * The kernel's deadlines over a real socket: the consumer's budget travels in the request, a
 * cancel frame aborts the provider's signal, the provider's own timeout answers SERVER_TIMEOUT,
 * and the worker executor carries the context (signal included) into its thread.
 */
const seen: { signal?: AbortSignal; reason?: unknown } = {};
const slow = {
  async slow(ms: number) {
    const ctx = Plexus.context();
    seen.signal = ctx.signal;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => {
        seen.reason = ctx.signal.reason;
        clearTimeout(t);
        resolve();
      });
    });
    return 'done';
  },
};

/** The error a call rejects with (undefined when it resolved: the assertions then fail). */
const rejection = async (p: Promise<unknown>) => (await rejectionOf(p)) as RpcError;

describe('deadlines over TCP', () => {
  let provider: Plexus;
  let url: string;

  beforeAll(async () => {
    provider = Plexus.create({
      application: { name: 'deadline-provider', handleSignals: false },
      logLevel: 'silent',
      protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    });
    provider.provide({ interface: 'd.Slow', timeout: 0 }, slow);
    provider.provide({ interface: 'd.Bounded', timeout: 150 }, slow);
    provider.provide({ interface: 'd.Worker', implementation: path.join(__dirname, '..', 'fixtures', 'e2e', 'context-worker.js'), executor: 'worker', threads: 1 });
    await provider.start();
    url = `plexus://${provider.exportedUrls()[0].address}`;
  });

  afterAll(() => provider.stop());

  function consumer(): Plexus {
    return Plexus.create({ application: { name: 'deadline-consumer' }, logLevel: 'silent' });
  }

  it('timeout 40 to a 400 ms method: TIMEOUT in < 100 ms, and the cancel frame aborts the provider signal', async () => {
    const app = consumer();
    const ref = app.refer<{ slow(ms: number): string }>({ interface: 'd.Slow', url, timeout: 40, retries: 0 });
    await ref.$echo('warm');
    seen.signal = undefined;
    const started = Date.now();
    const err = await rejection(ref.slow(400));
    expect(err.code).toBe(RpcCode.TIMEOUT);
    expect(Date.now() - started).toBeLessThan(100);
    for (let i = 0; i < 100 && !seen.signal?.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    expect(seen.signal?.aborted).toBe(true);
    // The provider holds the call to the budget the request carried, and the consumer's cancel frame
    // arrives about then too: whichever is first aborts the signal.
    expect(['PLEXUS_ERR_CALL_SERVER_TIMEOUT', 'PLEXUS_ERR_PROTOCOL_CANCELLED_BY_CONSUMER']).toContain((seen.reason as RpcError).reason);
    await app.stop();
  });

  it('provider timeout 150 ends a 600 ms call with SERVER_TIMEOUT and aborts the signal', async () => {
    const app = consumer();
    const ref = app.refer<{ slow(ms: number): string }>({ interface: 'd.Bounded', url, timeout: 5000, retries: 0 });
    const started = Date.now();
    const err = await rejection(ref.slow(600));
    expect(err.code).toBe(RpcCode.SERVER_TIMEOUT);
    expect(Date.now() - started).toBeLessThan(500);
    expect(seen.signal?.aborted).toBe(true);
    await app.stop();
  });

  it('a consumer AbortSignal aborts the provider signal across the socket', async () => {
    const app = consumer();
    const ref = app.refer<{ slow(ms: number): string }>({ interface: 'd.Slow', url, timeout: 5000, retries: 0 });
    await ref.$echo('warm');
    const controller = new AbortController();
    const call = Plexus.withCallOptions({ signal: controller.signal }, () => ref.slow(3000));
    for (let i = 0; i < 100 && (seen.signal === undefined || seen.signal.aborted); i++) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect((await rejection(call)).code).toBe(RpcCode.CANCELLED);
    for (let i = 0; i < 100 && !seen.signal?.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    expect(seen.signal?.aborted).toBe(true);
    expect((seen.reason as RpcError).reason).toBe('PLEXUS_ERR_PROTOCOL_CANCELLED_BY_CONSUMER');
    await app.stop();
  });

  it('the worker executor gives the implementation its context and returns business error codes', async () => {
    const app = consumer();
    const ref = app.refer<{ whoami(): { method: string; trace: string; hasSignal: boolean }; fail(): never; echoBack(): string }>({
      interface: 'd.Worker',
      url,
      retries: 0,
    });
    const who = await Plexus.withAttachments({ trace: 't-9' }, () => ref.whoami());
    expect(who).toEqual({ method: 'whoami', trace: 't-9', hasSignal: true });
    const err = await rejection(ref.fail());
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
    expect(err.data).toEqual({ code: 'E_WORKER' });
    await expect(ref.$echo('through the kernel')).resolves.toBe('through the kernel');
    const workerUrl = provider.exportedUrls().find((u) => u.path === 'd.Worker')!;
    expect(workerUrl.params.executor).toBe('worker');
    await app.stop();
  });
});

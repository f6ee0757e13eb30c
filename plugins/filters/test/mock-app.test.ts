/**
 * The mock filter at the kernel's deadline, inside real applications (injvm): the kernel cancels
 * the call with TIMEOUT and the caller gets the mock's or the fallback's answer instead, at the
 * deadline (not ahead of it); a fallback that throws leaves the TIMEOUT.
 */
import { Plexus } from '@plexus/kernel';
import { RpcCode, type Fallback } from '@plexus/kernel/spi';

interface Slow {
  wait(ms: number): Promise<string>;
}

const apps: Plexus[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop();
});

async function slowApp(reference: Record<string, unknown>, fallback?: Fallback): Promise<Slow> {
  const app = Plexus.create({
    logLevel: 'silent',
    application: { name: 'mock-deadline' },
    plugins: ['@plexus/filters'],
    protocol: { name: 'injvm' },
    references: { slow: { interface: 'mock.Slow', timeout: 80, ...reference } },
  } as never);
  apps.push(app);
  app.provide({ interface: 'mock.Slow' }, {
    wait(ms: number) {
      // Bounded: the provider never holds the test longer than this.
      return new Promise((resolve) => setTimeout(() => resolve('in time'), Math.min(ms, 1000)));
    },
  });
  await app.start();
  return app.reference<Slow>('slow', fallback ? { fallback } : undefined);
}

/** The outcome of `p` and how long it took. */
async function timed(p: Promise<unknown>): Promise<{ value?: unknown; error?: { code?: string; message: string }; ms: number }> {
  const started = Date.now();
  try {
    const value = await p;
    return { value, ms: Date.now() - started };
  } catch (error) {
    return { error: error as { code?: string; message: string }, ms: Date.now() - started };
  }
}

describe('mock at the deadline (kernel recovery)', () => {
  it('a return mock answers a call still running at its deadline, and a call in time keeps its own value', async () => {
    const slow = await slowApp({ mock: 'return "cached"' });
    const out = await timed(slow.wait(1000));
    expect(out.value).toBe('cached');
    // At the deadline (80 ms; the wheel settles within ~10 ms after), not ahead of it.
    expect(out.ms).toBeGreaterThanOrEqual(75);
    expect(out.ms).toBeLessThan(600);
    await expect(slow.wait(1)).resolves.toBe('in time');
  });

  it('a throw mock fails the call with its business error instead of TIMEOUT', async () => {
    const slow = await slowApp({ mock: 'throw try again later' });
    const out = await timed(slow.wait(1000));
    expect(out.error).toMatchObject({ code: RpcCode.SERVICE_ERROR, message: 'try again later' });
  });

  it('a code fallback answers with its value, or with what its promise gives', async () => {
    const sync = await slowApp({}, (inv, err) => `sync ${inv.method} ${err.code}`);
    await expect(sync.wait(1000)).resolves.toBe(`sync wait ${RpcCode.TIMEOUT}`);
    const later = await slowApp({}, () => new Promise((resolve) => setTimeout(() => resolve('async fallback'), 20)));
    const out = await timed(later.wait(1000));
    expect(out.value).toBe('async fallback');
    expect(out.ms).toBeGreaterThanOrEqual(95);
  });

  it('an async fallback that rejects fails the call with its error as a business error', async () => {
    const slow = await slowApp({}, () => Promise.reject(new Error('cache is cold')));
    const out = await timed(slow.wait(1000));
    expect(out.error).toMatchObject({ code: RpcCode.SERVICE_ERROR, message: 'cache is cold' });
  });

  it('a fallback that throws at once leaves the TIMEOUT', async () => {
    const slow = await slowApp({}, () => {
      throw new Error('no fallback today');
    });
    const out = await timed(slow.wait(1000));
    expect(out.error?.code).toBe(RpcCode.TIMEOUT);
  });
});

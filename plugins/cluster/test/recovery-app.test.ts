/**
 * failsafe and failback at the kernel's deadline, inside real applications (injvm): the caller
 * gets the empty result at the deadline instead of TIMEOUT; failback queues the call and delivers
 * it later; a reference destroyed while calls are queued (app.stop) reports them.
 */
import { Plexus } from '@plexus/kernel';
import { RpcCode } from '@plexus/kernel/spi';

interface Slow {
  wait(ms: number): Promise<string | undefined>;
}

const apps: Plexus[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop();
});

/** An app serving `recovery.Slow` to itself; `slowFor` calls take `wait(ms)` ms (bounded), the rest answer at once. */
async function slowApp(reference: Record<string, unknown>, slowFor: number, extensions?: Record<string, unknown>) {
  const app = Plexus.create({
    logLevel: 'silent',
    application: { name: 'cluster-recovery' },
    protocol: { name: 'injvm' },
    references: { slow: { interface: 'recovery.Slow', timeout: 60, ...reference } },
    ...(extensions ? { extensions } : {}),
  } as never);
  apps.push(app);
  const served: number[] = [];
  app.provide({ interface: 'recovery.Slow' }, {
    wait(ms: number) {
      served.push(ms);
      const delay = served.length <= slowFor ? Math.min(ms, 1000) : 0;
      return new Promise((resolve) => setTimeout(() => resolve('in time'), delay));
    },
  });
  const warn = jest.spyOn(app.logger, 'warn');
  await app.start();
  return { app, slow: app.reference<Slow>('slow'), served, warn };
}

const codesOf = (warn: jest.SpyInstance) => warn.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code);

describe('recovery at the deadline', () => {
  it('failsafe: a call still running at its deadline resolves with undefined, logged as ignored', async () => {
    const { slow, warn } = await slowApp({ cluster: 'failsafe' }, 1);
    const started = Date.now();
    await expect(slow.wait(1000)).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(600);
    expect(codesOf(warn)).toContain('PLEXUS_ERR_CLUSTER_FAILSAFE_IGNORED');
    await expect(slow.wait(1)).resolves.toBe('in time');
  });

  it('failback: a call still running at its deadline resolves with undefined and is delivered by a retry', async () => {
    const { slow, served } = await slowApp({ cluster: 'failback' }, 1, { cluster: { failback: { retryInterval: 20 } } });
    await expect(slow.wait(1000)).resolves.toBeUndefined();
    const deadline = Date.now() + 3000;
    while (served.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // The retry is the same call (same argument), answered in time this time.
    expect(served).toEqual([1000, 1000]);
  });

  it('failback: app.stop() destroys the reference and reports the calls still queued', async () => {
    const { app, slow, warn } = await slowApp({ cluster: 'failback' }, 10, { cluster: { failback: { retryInterval: 60_000 } } });
    await expect(Promise.all([slow.wait(1000), slow.wait(1000), slow.wait(1000)])).resolves.toEqual([undefined, undefined, undefined]);
    await app.stop();
    const report = warn.mock.calls.find((c) => (c[1] as { code?: string } | undefined)?.code === 'PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED');
    expect(report?.[0]).toContain('3 failed calls of recovery.Slow were still queued');
    expect(report?.[0]).toContain(`wait (${RpcCode.TIMEOUT}) ×3`);
    expect(report?.[0]).toContain('the reference was destroyed');
    // Reported once: the cluster's own close at the end of the stop finds nothing left.
    expect(codesOf(warn).filter((c) => c === 'PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED')).toHaveLength(1);
  });
});

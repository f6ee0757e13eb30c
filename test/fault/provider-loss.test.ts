import * as path from 'node:path';
import { Plexus, RpcError } from '@plexus/kernel';
import { FIXTURES, startProvider, type ProviderProcess } from '../e2e/helpers';

/**
 * Two provider processes behind one reference (two direct URLs, failover, round robin); one is
 * stopped under load — gracefully with SIGTERM, or killed with SIGKILL. Bounded: a fixed number of
 * calls, 127.0.0.1 only, every process stopped by PID.
 */
interface Sink {
  sleep(ms: number): number;
  echo<T>(v: T): T;
}

const CONFIG = path.join(FIXTURES, 'provider.yaml');
let providers: ProviderProcess[] = [];
let app: Plexus | undefined;

afterEach(async () => {
  await app?.stop();
  app = undefined;
  for (const p of providers) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  providers = [];
});

async function twoProviders(): Promise<Sink> {
  providers = await Promise.all([startProvider(CONFIG), startProvider(CONFIG)]);
  app = Plexus.create({
    references: {
      sink: {
        interface: 'e2e.KitchenSink',
        version: '1.0.0',
        url: providers.map((p) => `plexus://127.0.0.1:${p.port}`).join(','),
        loadbalance: 'roundrobin',
        retries: 2,
        timeout: 5000,
      },
    },
  });
  return app.reference<Sink>('sink');
}

/** Runs `total` calls, `concurrency` at a time, and returns the errors. */
async function load(sink: Sink, total: number, concurrency: number, onHalf: () => void): Promise<unknown[]> {
  const errors: unknown[] = [];
  let issued = 0;
  let halfDone = false;
  const worker = async () => {
    while (issued < total) {
      const i = issued++;
      if (!halfDone && i >= total / 2) {
        halfDone = true;
        onHalf();
      }
      try {
        await sink.sleep(5);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return errors;
}

it('a provider stopped with SIGTERM under load loses no call', async () => {
  const sink = await twoProviders();
  const victim = providers[0];
  const errors = await load(sink, 2000, 50, () => process.kill(victim.pid, 'SIGTERM'));
  expect(errors).toEqual([]);
  const exit = await victim.exited;
  expect(exit.code).toBe(0);
  // The survivor serves on.
  await expect(sink.echo('after')).resolves.toBe('after');
}, 60_000);

it('a provider killed with SIGKILL under load: idempotent calls fail over to the survivor', async () => {
  const sink = await twoProviders();
  const victim = providers[0];
  const errors = await load(sink, 2000, 50, () => process.kill(victim.pid, 'SIGKILL'));
  // Calls in flight on the killed provider fail with NETWORK and are retried on the other one.
  expect(errors.map((e) => (RpcError.is(e) ? `${e.code}: ${e.message}` : String(e)))).toEqual([]);
  await victim.exited;
  await expect(sink.echo('after')).resolves.toBe('after');
}, 60_000);

it('without retries, calls in flight on a killed provider fail with a retryable NETWORK error', async () => {
  providers = [await startProvider(CONFIG)];
  app = Plexus.create({
    references: { sink: { interface: 'e2e.KitchenSink', version: '1.0.0', url: `plexus://127.0.0.1:${providers[0].port}`, retries: 0, timeout: 5000 } },
  });
  const sink = app.reference<Sink>('sink');
  await sink.echo('warm');
  const inflight = Array.from({ length: 20 }, () => sink.sleep(2000).catch((e) => e));
  await new Promise((r) => setTimeout(r, 100));
  process.kill(providers[0].pid, 'SIGKILL');
  const results = await Promise.all(inflight);
  for (const r of results) {
    expect(RpcError.is(r)).toBe(true);
    expect((r as RpcError).code).toBe('NETWORK');
    expect((r as RpcError).retryable).toBe(true);
  }
}, 30_000);

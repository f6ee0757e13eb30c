import * as path from 'node:path';
import { Plexus } from '@plexus/kernel';
import { FIXTURES, startProvider, type ProviderProcess } from '../e2e/helpers';

/**
 * A bounded soak: 60,000 calls at concurrency 100 over one connection. Both processes' heaps,
 * measured after a full GC, must not grow with the number of calls.
 */
let provider: ProviderProcess;
let app: Plexus;

beforeAll(async () => {
  provider = await startProvider(path.join(FIXTURES, 'provider.yaml'), ['--expose-gc']);
  app = Plexus.create({ references: { sink: { interface: 'e2e.KitchenSink', version: '1.0.0', url: `plexus://127.0.0.1:${provider.port}`, timeout: 10_000 } } });
});

afterAll(async () => {
  await app.stop();
  if (provider.child.exitCode === null) provider.child.kill('SIGKILL');
});

async function run(sink: { echo<T>(v: T): T }, calls: number): Promise<void> {
  let left = calls;
  const payload = { id: 1, name: 'soak', tags: ['a', 'b'], data: 'x'.repeat(40) };
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (left-- > 0) await sink.echo(payload);
    }),
  );
}

it('keeps both heaps flat over 60,000 calls', async () => {
  const sink = app.reference<{ echo<T>(v: T): T; memory(): NodeJS.MemoryUsage }>('sink');
  const gc = (globalThis as { gc?: () => void }).gc;
  await run(sink, 10_000); // warm up: JIT, pools, caches
  const providerBefore = (await sink.memory()).heapUsed;
  gc?.();
  const consumerBefore = process.memoryUsage().heapUsed;
  await run(sink, 50_000);
  const providerAfter = (await sink.memory()).heapUsed;
  gc?.();
  const consumerAfter = process.memoryUsage().heapUsed;
  expect(providerAfter - providerBefore).toBeLessThan(8 * 1024 * 1024);
  // Without --expose-gc in jest the consumer figure includes garbage; the bound is loose for it.
  expect(consumerAfter - consumerBefore).toBeLessThan((gc ? 8 : 64) * 1024 * 1024);
}, 60_000);

/**
 * `npx tsc -p examples/typescript && node examples/typescript/dist/run.js`: a typed provider and a
 * typed consumer (two applications in this process, over loopback TCP), sharing calculator.ts.
 * Exits 0 when every call answered as expected, 1 otherwise; gives up after 20 s.
 */
import { startProvider } from './provider';
import { startConsumer, useCalculator } from './consumer';
import type { Plexus } from '@plexus/kernel';

const GIVE_UP_MS = 20_000;

async function main(): Promise<void> {
  const apps: Plexus[] = [];
  try {
    const provider = await startProvider();
    apps.push(provider.app);
    console.log(`[provider] demo.Calculator on ${provider.address}`);
    const consumer = await startConsumer(provider.address);
    apps.push(consumer.app);
    const lines = await useCalculator(consumer.calculator);
    const expected = ['add(40, 2) = 42', 'total(2.50 EUR, 1.99 EUR) = 4.49 EUR', 'total(EUR, USD) failed as it should'];
    const missing = expected.filter((e) => !lines.some((l) => l.startsWith(e)));
    if (missing.length) throw new Error(`unexpected answers; missing: ${missing.join('; ')}`);
    console.log('[demo] done');
  } finally {
    for (const app of apps.reverse()) await app.stop();
  }
}

const timer = setTimeout(() => {
  console.error(`[demo] gave up after ${GIVE_UP_MS / 1000} s`);
  process.exit(1);
}, GIVE_UP_MS);
timer.unref();
main().then(
  () => process.exit(0),
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    console.error(`[demo] ${e.code ?? ''} ${e.message ?? String(err)}`);
    process.exit(1);
  },
);

import { Plexus } from '@plexus/kernel';
import { CALCULATOR, MIXED_CURRENCIES, type Calculator, type Money } from './calculator';

/** The implementation. `implements Calculator` makes tsc check it against the shared interface. */
export class CalculatorService implements Calculator {
  add(a: number, b: number): number {
    return a + b;
  }

  async total(items: Money[]): Promise<Money> {
    const currency = items[0]?.currency ?? 'EUR';
    if (items.some((m) => m.currency !== currency)) throw new Error(`${MIXED_CURRENCIES}: ${[...new Set(items.map((m) => m.currency))].join(', ')}`);
    return { cents: items.reduce((sum, m) => sum + m.cents, 0), currency };
  }
}

/** Starts a provider on a free loopback port; resolves with the application and its address. */
export async function startProvider(): Promise<{ app: Plexus; address: string }> {
  const app = Plexus.create({
    application: { name: 'ts-calculator-provider' },
    logLevel: 'warn',
    registry: null, // no discovery: the consumer is given the address
    protocols: [{ name: 'plexus', host: '127.0.0.1', port: 0 }],
  });
  app.provide({ ...CALCULATOR }, new CalculatorService());
  await app.start();
  const url = app.exportedUrls().find((u) => u.protocol === 'plexus');
  if (!url) throw new Error('the provider exported no plexus URL');
  return { app, address: url.address };
}

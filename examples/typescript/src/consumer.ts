import { Plexus, RpcError, type ServiceProxy } from '@plexus/kernel';
import { CALCULATOR, MIXED_CURRENCIES, type Calculator } from './calculator';

/** Starts a consumer whose reference `calculator` calls the provider at `address`. */
export async function startConsumer(address: string): Promise<{ app: Plexus; calculator: ServiceProxy<Calculator> }> {
  const app = Plexus.create({
    application: { name: 'ts-calculator-consumer' },
    logLevel: 'warn',
    registry: null,
    consumer: { timeout: 2000 },
    references: { calculator: { ...CALCULATOR, url: `plexus://${address}` } },
  });
  await app.start();
  // The typed proxy: every method of Calculator, each returning a Promise of its result.
  return { app, calculator: app.reference<Calculator>('calculator') };
}

/** The calls the example makes; returns what it printed, for run.ts to check. */
export async function useCalculator(calculator: ServiceProxy<Calculator>): Promise<string[]> {
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    console.log(`[consumer] ${line}`);
  };

  const sum: number = await calculator.add(40, 2); // Promise<number>: add returns number on the provider
  say(`add(40, 2) = ${sum}`);

  const total = await calculator.total([{ cents: 250, currency: 'EUR' }, { cents: 199, currency: 'EUR' }]);
  say(`total(2.50 EUR, 1.99 EUR) = ${(total.cents / 100).toFixed(2)} ${total.currency}`);

  try {
    await calculator.total([{ cents: 100, currency: 'EUR' }, { cents: 100, currency: 'USD' }]);
    say('total(EUR, USD) answered: it should have failed');
  } catch (err) {
    // A provider's thrown error arrives as an RpcError with the business-error code and its message.
    if (!(err instanceof RpcError) || !err.message.includes(MIXED_CURRENCIES)) throw err;
    say(`total(EUR, USD) failed as it should: ${err.code} "${err.message}"`);
  }
  return lines;
}

/**
 * Never called: it is here for the compiler. Each line is a mistake tsc refuses; were the proxy
 * untyped, `@ts-expect-error` would itself be an error and the build would fail.
 */
export function typeChecks(calculator: ServiceProxy<Calculator>): void {
  // @ts-expect-error: add takes numbers
  void calculator.add('40', 2);
  // @ts-expect-error: no such method on Calculator
  void calculator.subtract(1, 2);
  // @ts-expect-error: the result is a Promise<number>, not a number
  const n: number = calculator.add(1, 2);
  void n;
}

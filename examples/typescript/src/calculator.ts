/**
 * The shared interface: the one file provider and consumer both import. The provider's class
 * `implements` it, the consumer's proxy is typed from it (`app.reference<Calculator>(...)`), so a
 * renamed method or a changed argument type breaks the build on both sides.
 *
 * Only what travels matters: arguments and results are plain data (msgpack by default).
 */
export interface Money {
  /** In cents, so sums stay exact. */
  cents: number;
  currency: string;
}

export interface Calculator {
  add(a: number, b: number): number;
  /** The sum of `items`; a business error when their currencies differ. */
  total(items: Money[]): Promise<Money>;
}

/** How the service is named on the wire; both sides use these. */
export const CALCULATOR = { interface: 'demo.Calculator', version: '1.0.0' } as const;

/** The business error `total` raises, so the consumer can tell it from a network failure. */
export const MIXED_CURRENCIES = 'mixed currencies';

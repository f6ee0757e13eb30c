import { fakeProviders } from '@plexus/kernel/testing';
import { WeightTable, WeightTables, WARMUP_REFRESH_MS } from '../src/weight-table';
import { warmingProvider } from './support/sim';

describe('WeightTable', () => {
  it('pickOther never returns the excluded index and stays proportional among the rest', () => {
    const table = new WeightTable(fakeProviders([1, 3, 0, 6]), 0);
    const counts = [0, 0, 0, 0];
    // An even sweep of [0, 1) instead of random numbers: the shares come out exact.
    for (let k = 0; k < 1000; k++) counts[table.pickOther((k + 0.5) / 1000, 3)]++;
    expect(counts).toEqual([250, 750, 0, 0]);
    const first = [0, 0, 0, 0];
    for (let k = 0; k < 1000; k++) first[table.pickOther((k + 0.5) / 1000, 0)]++;
    expect(first).toEqual([0, 333, 0, 667]);
  });

  it('pickOther over equal or all-zero weights skips the excluded index uniformly', () => {
    for (const weights of [[5, 5, 5, 5], [0, 0, 0, 0]]) {
      const table = new WeightTable(fakeProviders(weights), 0);
      const counts = [0, 0, 0, 0];
      for (let k = 0; k < 300; k++) counts[table.pickOther((k + 0.5) / 300, 1)]++;
      expect(counts).toEqual([100, 0, 100, 100]);
    }
  });

  it('pick lands on the provider whose share of the range holds r, skipping zero weights', () => {
    const table = new WeightTable(fakeProviders([0, 2, 0, 2, 0]), 0);
    expect([0, 0.49, 0.5, 0.99].map((r) => table.pick(r))).toEqual([1, 1, 3, 3]);
    expect(table).toMatchObject({ total: 4, positive: 2, lastPositive: 3, uniform: false, warming: false });
  });

  it('marks a list with a warming provider and refreshes it at most once per WARMUP_REFRESH_MS', () => {
    let clock = 10_000_000;
    const list = [warmingProvider('10.0.0.7', 1000, 10_000, clock), ...fakeProviders([100])];
    const tables = new WeightTables();
    let reads = 0;
    const now = () => {
      reads++;
      return clock;
    };
    const table = tables.of(list, now);
    expect(table.warming).toBe(true);
    expect(table.weights[0]).toBe(10);
    clock += WARMUP_REFRESH_MS - 1;
    expect(tables.of(list, now).weights[0]).toBe(10);
    clock += 1;
    expect(tables.of(list, now).weights[0]).toBe(20);
    // Once warm, the clock is no longer read at all.
    clock += 20_000;
    tables.of(list, now);
    expect(table.warming).toBe(false);
    const before = reads;
    for (let i = 0; i < 10; i++) tables.of(list, now);
    expect(reads).toBe(before);
  });

  it('keeps one table per list object', () => {
    const tables = new WeightTables();
    const a = fakeProviders([1, 2]);
    const b = fakeProviders([1, 2]);
    const ta = tables.of(a, Date.now);
    expect(tables.of(b, Date.now)).not.toBe(ta);
    expect(tables.of(a, Date.now)).toBe(ta);
  });
});

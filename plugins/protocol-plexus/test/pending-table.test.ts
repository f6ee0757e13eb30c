import { PendingTable } from '../src/pending-table';

/** Deterministic pseudo-random numbers (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `ops` random inserts of sequential ids and deletes (mostly of old ids) on a table and a Map. */
function churn(firstId: number, ops: number, seed: number, insertShare: number): void {
  const rnd = random(seed);
  const table = new PendingTable<{ id: number }>();
  const model = new Map<number, { id: number }>();
  let next = firstId;
  for (let op = 0; op < ops; op++) {
    if (model.size === 0 || rnd() < insertShare) {
      const v = { id: next };
      table.set(next, v);
      model.set(next, v);
      next = next >= Number.MAX_SAFE_INTEGER ? 1 : next + 1;
    } else {
      // Answers come mostly in order, some late: pick among the oldest few, sometimes any.
      const keys = [...model.keys()];
      const pick = rnd() < 0.9 ? Math.floor(rnd() * Math.min(4, keys.length)) : Math.floor(rnd() * keys.length);
      const id = keys[pick];
      expect(table.delete(id)).toBe(true);
      model.delete(id);
      expect(table.delete(id)).toBe(false);
      expect(table.get(id)).toBeUndefined();
    }
    expect(table.size).toBe(model.size);
    if (op % 500 === 0) {
      for (const [id, v] of model) expect(table.get(id)).toBe(v);
      expect(new Set(table.values())).toEqual(new Set(model.values()));
    }
  }
  for (const [id, v] of model) {
    expect(table.has(id)).toBe(true);
    expect(table.get(id)).toBe(v);
  }
}

describe('PendingTable', () => {
  it('agrees with a Map under steady churn (about 100 in flight)', () => {
    churn(1, 20_000, 1, 0.5);
  });

  it('agrees with a Map while it grows past its first capacity and shrinks back', () => {
    churn(1, 6_000, 2, 0.9); // grows to thousands of entries
    const table = new PendingTable<number>();
    for (let id = 1; id <= 5000; id++) table.set(id, id);
    for (let id = 1; id <= 4990; id++) expect(table.delete(id)).toBe(true);
    expect(table.size).toBe(10);
    expect(table.values().sort((a, b) => a - b)).toEqual([4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999, 5000]);
  });

  it('handles ids past 2^32 and the wrap back to 1', () => {
    churn(Number.MAX_SAFE_INTEGER - 3_000, 8_000, 3, 0.5);
  });

  it('keeps ids a peer lines up on their low bits spread out (seeded hash)', () => {
    // Multiples of 2^32 and of 2^16 all share `id & mask`; unseeded, each insert would probe the
    // whole run (~10^9 probes for these 2 x 30,000 ids), which takes many seconds.
    const table = new PendingTable<number>();
    const started = Date.now();
    for (let k = 1; k <= 30_000; k++) table.set(k * 4294967296, k);
    for (let k = 1; k <= 30_000; k++) table.set(k * 65536, -k);
    let found = 0;
    for (let k = 1; k <= 30_000; k++) if (table.get(k * 4294967296) === k) found++;
    let deleted = 0;
    for (let k = 1; k <= 30_000; k += 2) if (table.delete(k * 65536)) deleted++;
    const took = Date.now() - started;
    expect(found).toBe(30_000);
    expect(deleted).toBe(15_000);
    expect(table.size).toBe(45_000);
    expect(table.get(2 * 65536)).toBe(-2);
    expect(table.get(65536)).toBeUndefined();
    expect(took).toBeLessThan(1000);
  });

  it('takes id 0 and ids past 2^53, as a provider may read from a peer', () => {
    const table = new PendingTable<string>();
    table.set(0, 'zero');
    table.set(2 ** 64 - 2 ** 12, 'big');
    expect(table.get(0)).toBe('zero');
    expect(table.get(2 ** 64 - 2 ** 12)).toBe('big');
    expect(table.size).toBe(2);
    expect(table.delete(0)).toBe(true);
    expect(table.get(0)).toBeUndefined();
    expect(table.values()).toEqual(['big']);
  });

  it('clear empties it and it stays usable', () => {
    const table = new PendingTable<number>();
    for (let id = 1; id <= 300; id++) table.set(id, id);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
    expect(table.get(5)).toBeUndefined();
    table.set(5, 50);
    expect(table.get(5)).toBe(50);
  });
});

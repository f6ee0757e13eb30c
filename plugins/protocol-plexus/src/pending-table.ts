import { randomInt } from 'node:crypto';

const MIN_CAPACITY = 256;
const TWO_32 = 4294967296;
/** Marks a free slot: request ids are never negative. */
const EMPTY = -1;

/**
 * The home slot of `id`: both 32-bit halves mixed with the table's secret seed, then the
 * murmur3 finaliser. A peer that picks its own ids cannot line them up on one probe run
 * without knowing the seed.
 */
function home(id: number, seedLo: number, seedHi: number, mask: number): number {
  let h = Math.imul(id ^ seedLo, 0x85ebca6b) ^ Math.imul(((id / TWO_32) | 0) ^ seedHi, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & mask;
}

/**
 * The calls a client connection waits on, by request id: an open-addressing table (linear probing,
 * backward-shift deletion, so no tombstones) over two plain arrays. Keys are request ids, numbers
 * ≥ 0 (a provider reads a peer's u64 id as a number); they are hashed with a per-table random seed, so
 * ids a peer chooses (the provider's running calls) cannot be made to collide on purpose.
 * Scope: one per connection; event loop only.
 *
 * Why not a `Map`: a `Map` with steady insert/delete churn rehashes every few hundred calls, and
 * V8 links each replaced backing table to its successor and leaves its entries in place. Once one
 * of those tables reaches the old generation (every full GC moves the live one there), the chain
 * from it keeps every later table — and every call that was in one, with its result — alive
 * through the next two scavenges, which then copy and promote them: at c=100 about 2.5 MB per
 * scavenge and a ~3 ms pause. Here a removed entry's slot is cleared and a replaced array points
 * to nothing, so a finished call is garbage at once.
 */
export class PendingTable<T> {
  private keys: number[] = new Array<number>(MIN_CAPACITY).fill(EMPTY);
  private vals: (T | undefined)[] = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
  private mask = MIN_CAPACITY - 1;
  private count = 0;
  private readonly seedLo = randomInt(TWO_32 / 2) | 0;
  private readonly seedHi = randomInt(TWO_32 / 2) | 0;

  /** Entries held. */
  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    const i = this.find(id);
    return i < 0 ? undefined : this.vals[i];
  }

  has(id: number): boolean {
    return this.find(id) >= 0;
  }

  /** Adds or replaces the entry of `id` (an integer ≥ 0). */
  set(id: number, value: T): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    this.put(id, value);
  }

  delete(id: number): boolean {
    let i = this.find(id);
    if (i < 0) return false;
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    // Backward shift: pull later entries of the probe run into the hole unless their home slot
    // lies cyclically in (i, j], where they already are reachable from.
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const at = home(keys[j], this.seedLo, this.seedHi, mask);
      const reachable = i <= j ? i < at && at <= j : i < at || at <= j;
      if (reachable) continue;
      keys[i] = keys[j];
      vals[i] = vals[j];
      i = j;
    }
    keys[i] = EMPTY;
    vals[i] = undefined;
    this.count--;
    // A burst that grew the table does not keep its arrays for the life of the connection.
    if (this.mask + 1 > MIN_CAPACITY && this.count * 8 < this.mask + 1) this.resize((this.mask + 1) / 2);
    return true;
  }

  /** The entries, in no particular order. */
  values(): T[] {
    const out: T[] = [];
    const keys = this.keys;
    for (let i = 0; i <= this.mask; i++) if (keys[i] !== EMPTY) out.push(this.vals[i] as T);
    return out;
  }

  clear(): void {
    this.keys.fill(EMPTY);
    this.vals.fill(undefined);
    this.count = 0;
  }

  private find(id: number): number {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = home(id, this.seedLo, this.seedHi, mask); ; i = (i + 1) & mask) {
      const key = keys[i];
      if (key === id) return i;
      if (key === EMPTY) return -1;
    }
  }

  private put(id: number, value: T): void {
    const keys = this.keys;
    const mask = this.mask;
    let i = home(id, this.seedLo, this.seedHi, mask);
    while (keys[i] !== EMPTY && keys[i] !== id) i = (i + 1) & mask;
    if (keys[i] === EMPTY) this.count++;
    keys[i] = id;
    this.vals[i] = value;
  }

  private resize(capacity: number): void {
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Array<number>(capacity).fill(EMPTY);
    this.vals = new Array<T | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.count = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) this.put(keys[i], vals[i] as T);
  }
}

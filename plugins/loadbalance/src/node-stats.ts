import type { Invocation, Invoker } from '@plexus/kernel/spi';

/** How long the counters of a provider that left the list are kept, ms (matches roundrobin's recycle period). */
export const STATS_RECYCLE_MS = 60_000;

/** What every per-provider record of a hook-driven balancer holds. */
export interface NodeStat {
  /** Attempts started and not yet finished. Never below 0. */
  active: number;
  /** When it was last part of the list balanced over. */
  seenAt: number;
  /** Part of the current list (never recycled while true). */
  inRow: boolean;
  /** Its position in the current list, -1 when not in it (where its count is mirrored in `actives`). */
  index: number;
}

/** The records of one method: one per provider, by identity, and those of the current list in list order. */
export class MethodStats<S extends NodeStat> {
  readonly stats = new Map<Invoker, S>();
  /** The list `row` was built for. */
  list: readonly Invoker[] | undefined = undefined;
  /** `row[i]` is the record of `list[i]`. */
  readonly row: S[] = [];
  /** `actives[i]` mirrors `row[i].active`, so a scan reads one typed array instead of n objects. */
  actives = new Int32Array(16);
  sweptAt: number;

  constructor(now: number) {
    this.sweptAt = now;
  }
}

/**
 * Per-method, per-provider counters for the balancers that use the attempt hooks (leastactive,
 * shortestresponse, p2c). `select` reads the records of the current list through `rowOf`, built
 * once when the list identity changes, so the hot path does no map lookup; `started`/`finished`
 * find a record by provider identity. A provider that left the list keeps its record (a retry
 * that balances over a shorter list must not wipe the history of those it left out) until it has
 * been absent for `recycleMs` with nothing in flight. Internal to this package.
 */
export class StatsBook<S extends NodeStat> {
  private readonly services = new Map<string, Map<string, MethodStats<S>>>();

  constructor(
    private readonly make: (now: number) => S,
    private readonly now: () => number,
    private readonly recycleMs = STATS_RECYCLE_MS,
  ) {}

  /** The records of `invocation`'s method lined up with `invokers` (`row`, and the in-flight counts in `actives`). */
  rowOf(invokers: readonly Invoker[], invocation: Invocation): MethodStats<S> {
    const m = this.methodOf(invocation);
    if (m.list !== invokers) this.rebind(m, invokers);
    return m;
  }

  /** An attempt on `invoker` started: its in-flight count goes up (its record is made if missing). */
  started(invoker: Invoker, invocation: Invocation): S {
    const m = this.methodOf(invocation);
    let stat = m.stats.get(invoker);
    if (stat === undefined) {
      const now = this.now();
      stat = this.make(now);
      stat.seenAt = now;
      m.stats.set(invoker, stat);
    }
    stat.active++;
    if (stat.index >= 0) m.actives[stat.index] = stat.active;
    return stat;
  }

  /**
   * An attempt on `invoker` settled: its in-flight count goes down, never below 0. Returns its
   * record, or undefined for a provider never seen (a stray `finished` changes nothing).
   */
  finished(invoker: Invoker, invocation: Invocation): S | undefined {
    const m = this.services.get(invocation.serviceKey)?.get(invocation.method);
    const stat = m?.stats.get(invoker);
    if (stat === undefined) return undefined;
    if (stat.active > 0) stat.active--;
    if (stat.index >= 0) m!.actives[stat.index] = stat.active;
    return stat;
  }

  /** The record of one provider, or undefined (never creates). */
  find(invoker: Invoker, invocation: Invocation): S | undefined {
    return this.services.get(invocation.serviceKey)?.get(invocation.method)?.stats.get(invoker);
  }

  /** How many records are held, over all methods. For tests and diagnostics. */
  size(): number {
    let count = 0;
    for (const methods of this.services.values()) for (const m of methods.values()) count += m.stats.size;
    return count;
  }

  private methodOf(invocation: Invocation): MethodStats<S> {
    let methods = this.services.get(invocation.serviceKey);
    if (methods === undefined) {
      methods = new Map();
      this.services.set(invocation.serviceKey, methods);
    }
    let m = methods.get(invocation.method);
    if (m === undefined) {
      m = new MethodStats<S>(this.now());
      methods.set(invocation.method, m);
    }
    return m;
  }

  private rebind(m: MethodStats<S>, invokers: readonly Invoker[]): void {
    const now = this.now();
    const row = m.row;
    for (let i = 0; i < row.length; i++) {
      row[i].inRow = false;
      row[i].index = -1;
      row[i].seenAt = now;
    }
    row.length = invokers.length;
    if (m.actives.length < invokers.length) m.actives = new Int32Array(Math.max(invokers.length, m.actives.length * 2));
    for (let i = 0; i < invokers.length; i++) {
      let stat = m.stats.get(invokers[i]);
      if (stat === undefined) {
        stat = this.make(now);
        m.stats.set(invokers[i], stat);
      }
      stat.inRow = true;
      stat.index = i;
      stat.seenAt = now;
      row[i] = stat;
      m.actives[i] = stat.active;
    }
    m.list = invokers;
    if (m.stats.size > invokers.length && now - m.sweptAt >= this.recycleMs) {
      m.sweptAt = now;
      for (const [invoker, stat] of m.stats) {
        if (!stat.inRow && stat.active === 0 && now - stat.seenAt > this.recycleMs) m.stats.delete(invoker);
      }
    }
  }
}


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
}

/** The records of one method: one per provider, by identity, and those of the current list in list order. */
export class MethodStats<S extends NodeStat> {
  readonly stats = new Map<Invoker, S>();
  /** The list `row` was built for. */
  list: readonly Invoker[] | undefined = undefined;
  /** `row[i]` is the record of `list[i]`. */
  readonly row: S[] = [];
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

  /** The records of `invocation`'s method lined up with `invokers`. */
  rowOf(invokers: readonly Invoker[], invocation: Invocation): S[] {
    const m = this.methodOf(invocation);
    if (m.list !== invokers) this.rebind(m, invokers);
    return m.row;
  }

  /** The record of one provider for `invocation`'s method, created when missing. */
  statOf(invoker: Invoker, invocation: Invocation): S {
    const m = this.methodOf(invocation);
    let stat = m.stats.get(invoker);
    if (stat === undefined) {
      const now = this.now();
      stat = this.make(now);
      stat.seenAt = now;
      m.stats.set(invoker, stat);
    }
    return stat;
  }

  /** The record of one provider, or undefined (never creates: `finished` for an unknown provider is ignored). */
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
      row[i].seenAt = now;
    }
    row.length = invokers.length;
    for (let i = 0; i < invokers.length; i++) {
      let stat = m.stats.get(invokers[i]);
      if (stat === undefined) {
        stat = this.make(now);
        m.stats.set(invokers[i], stat);
      }
      stat.inRow = true;
      stat.seenAt = now;
      row[i] = stat;
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

/** Adds one to a record's in-flight count. */
export function markStarted(stat: NodeStat): void {
  stat.active++;
}

/** Takes one from a record's in-flight count, never below 0 (a stray `finished` changes nothing). */
export function markFinished(stat: NodeStat): void {
  if (stat.active > 0) stat.active--;
}

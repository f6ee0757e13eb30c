import { definePlugin, type Invocation, type Invoker, type LoadBalance } from '@plexus/kernel/spi';
import { LoadBalanceErrors } from './errors';
import { WeightTables } from './weight-table';

/** Providers not seen for this long are forgotten (Dubbo's recycle period). */
export const ROUND_ROBIN_RECYCLE_MS = 60_000;

/** Options of `RoundRobinLoadBalance`. */
export interface RoundRobinOptions {
  /**
   * Milliseconds after which the state of a provider that stopped appearing in the list is
   * dropped. Default 60000: long enough to ride out a registry flap without resetting the
   * rotation, short enough that churn (rolling deploys, autoscaling) does not grow memory.
   */
  recycleMs?: number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Rotation state of one provider for one method. */
interface Slot {
  weight: number;
  current: number;
  /** When it was last part of the list being rotated over (while it is, `inRow` says so). */
  seenAt: number;
  inRow: boolean;
}

/** Rotation state of one method: a slot per provider, by identity, and the slots of the current list in list order. */
interface MethodState {
  readonly slots: Map<Invoker, Slot>;
  /** The list `row` was built for. */
  list: readonly Invoker[] | undefined;
  /** `row[i]` is the slot of `list[i]`. */
  row: Slot[];
  sweptAt: number;
  /** Rotation counter for the case where every weight is 0. */
  turn: number;
}

/**
 * Smooth weighted round robin, as nginx and Dubbo do it: each call adds every provider's weight to
 * its running `current`, picks the highest, and subtracts the total from the winner. Weights 5,1,1
 * give `a a b a c a a`: proportional, and without bursts to one provider; over any run of
 * (sum of weights) calls each provider gets exactly its weight. Weights come from `invokerWeight`
 * (so warming providers get fewer calls); a provider whose weight changes restarts from 0.
 *
 * Cost: the algorithm touches every provider on every call (O(n), about 2 ns per provider here);
 * what is per list — the weights and the slot of each list position — is computed once when the
 * directory hands a new list, so the loop reads two arrays and allocates nothing.
 *
 * State is kept per `serviceKey` and method inside the instance, per provider identity (two
 * invokers with equal URLs rotate separately). A provider absent from the list for `recycleMs`
 * is forgotten. Scope: one instance per reference; `select` is synchronous.
 */
export class RoundRobinLoadBalance implements LoadBalance {
  private readonly services = new Map<string, Map<string, MethodState>>();
  private readonly tables = new WeightTables();
  private readonly recycleMs: number;
  private readonly now: () => number;

  constructor(options: RoundRobinOptions = {}) {
    this.recycleMs = options.recycleMs ?? ROUND_ROBIN_RECYCLE_MS;
    if (!(this.recycleMs >= 1)) throw LoadBalanceErrors.OPTION('roundrobin', 'recycleMs', 'at least 1 (ms)', options.recycleMs);
    this.now = options.now ?? Date.now;
  }

  select(invokers: readonly Invoker[], invocation: Invocation): Invoker {
    const n = invokers.length;
    const state = this.stateOf(invocation.serviceKey, invocation.method);
    // Even a list of one is bound: that is when the others are known to have left (recycling starts).
    if (state.list !== invokers) this.rebind(state, invokers);
    if (n === 1) return invokers[0];
    const weights = this.tables.of(invokers, this.now).weights;
    const row = state.row;
    let total = 0;
    let best = -1;
    let bestCurrent = 0;
    for (let i = 0; i < n; i++) {
      const slot = row[i];
      const weight = weights[i];
      if (slot.weight !== weight) {
        slot.weight = weight;
        slot.current = 0;
      }
      const current = slot.current + weight;
      slot.current = current;
      total += weight;
      if (best < 0 || current > bestCurrent) {
        best = i;
        bestCurrent = current;
      }
    }
    if (total <= 0) return invokers[state.turn++ % n];
    row[best].current -= total;
    return invokers[best];
  }

  /** How many provider states are held, over all methods. For tests and diagnostics. */
  trackedProviders(): number {
    let count = 0;
    for (const methods of this.services.values()) for (const state of methods.values()) count += state.slots.size;
    return count;
  }

  private stateOf(serviceKey: string, method: string): MethodState {
    let methods = this.services.get(serviceKey);
    if (methods === undefined) {
      methods = new Map();
      this.services.set(serviceKey, methods);
    }
    let state = methods.get(method);
    if (state === undefined) {
      state = { slots: new Map(), list: undefined, row: [], sweptAt: this.now(), turn: 0 };
      methods.set(method, state);
    }
    return state;
  }

  /** The list changed: line the slots up with it (once per list), and drop long-gone providers. */
  private rebind(state: MethodState, invokers: readonly Invoker[]): void {
    const now = this.now();
    const row = state.row;
    for (let i = 0; i < row.length; i++) {
      row[i].inRow = false;
      row[i].seenAt = now;
    }
    row.length = invokers.length;
    for (let i = 0; i < invokers.length; i++) {
      let slot = state.slots.get(invokers[i]);
      if (slot === undefined) {
        slot = { weight: -1, current: 0, seenAt: now, inRow: true };
        state.slots.set(invokers[i], slot);
      }
      slot.inRow = true;
      slot.seenAt = now;
      row[i] = slot;
    }
    state.list = invokers;
    if (state.slots.size > invokers.length && now - state.sweptAt >= this.recycleMs) {
      state.sweptAt = now;
      for (const [invoker, slot] of state.slots) if (!slot.inRow && now - slot.seenAt > this.recycleMs) state.slots.delete(invoker);
    }
  }
}

export default definePlugin({
  name: '@plexus/loadbalance',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'loadbalance',
      name: 'roundrobin',
      optionsSchema: {
        type: 'object',
        properties: { recycleMs: { type: 'integer', minimum: 1 } },
        additionalProperties: false,
      },
      create: (ctx) => new RoundRobinLoadBalance({ recycleMs: ctx.options.recycleMs as number | undefined }),
    },
  ],
});

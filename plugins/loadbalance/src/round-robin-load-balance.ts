import { definePlugin, invokerWeight, type Invocation, type Invoker, type LoadBalance } from '@plexus/kernel/spi';

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
  seenAt: number;
}

/** Rotation state of one method: a slot per provider, by identity. */
interface MethodState {
  readonly slots: Map<Invoker, Slot>;
  sweptAt: number;
  /** Rotation counter for the case where every weight is 0. */
  turn: number;
}

/**
 * Smooth weighted round robin, as nginx and Dubbo do it: each call adds every provider's weight to
 * its running `current`, picks the highest, and subtracts the total from the winner. Weights 5,1,1
 * give `a a b a c a a`: proportional, and without bursts to one provider. Weights come from
 * `invokerWeight` (so warming providers get fewer calls); a provider whose weight changes restarts
 * from 0.
 *
 * State is kept per `serviceKey` and method inside the instance, per provider identity (two
 * invokers with equal URLs rotate separately). A provider absent from the list for `recycleMs`
 * is forgotten. Scope: one instance per reference; `select` is synchronous and allocates only
 * when it first meets a method or a provider.
 */
export class RoundRobinLoadBalance implements LoadBalance {
  private readonly services = new Map<string, Map<string, MethodState>>();
  private readonly recycleMs: number;
  private readonly now: () => number;

  constructor(options: RoundRobinOptions = {}) {
    this.recycleMs = options.recycleMs ?? ROUND_ROBIN_RECYCLE_MS;
    this.now = options.now ?? Date.now;
  }

  select(invokers: readonly Invoker[], invocation: Invocation): Invoker {
    const n = invokers.length;
    if (n === 1) return invokers[0];
    const state = this.stateOf(invocation.serviceKey, invocation.method);
    const slots = state.slots;
    const now = this.now();
    let total = 0;
    let best: Slot | undefined;
    let chosen = invokers[0];
    for (let i = 0; i < n; i++) {
      const invoker = invokers[i];
      const weight = invokerWeight(invoker, now);
      let slot = slots.get(invoker);
      if (slot === undefined) {
        slot = { weight, current: 0, seenAt: now };
        slots.set(invoker, slot);
      } else if (slot.weight !== weight) {
        slot.weight = weight;
        slot.current = 0;
      }
      slot.seenAt = now;
      slot.current += weight;
      total += weight;
      if (best === undefined || slot.current > best.current) {
        best = slot;
        chosen = invoker;
      }
    }
    if (slots.size > n && now - state.sweptAt >= this.recycleMs) this.sweep(state, now);
    if (total <= 0) return invokers[state.turn++ % n];
    best!.current -= total;
    return chosen;
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
      state = { slots: new Map(), sweptAt: this.now(), turn: 0 };
      methods.set(method, state);
    }
    return state;
  }

  private sweep(state: MethodState, now: number): void {
    state.sweptAt = now;
    for (const [invoker, slot] of state.slots) if (now - slot.seenAt > this.recycleMs) state.slots.delete(invoker);
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
      },
      create: (ctx) => new RoundRobinLoadBalance({ recycleMs: ctx.options.recycleMs as number | undefined }),
    },
  ],
});

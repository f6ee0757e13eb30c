/** Why a node is out of rotation, and until when. */
export interface Suspension {
  readonly reason: string;
  /** Epoch ms after which the node is back by itself; 0 = until `restore`. */
  readonly until: number;
}

/**
 * Which provider nodes are out of rotation, by address (`host:port`): a circuit breaker or a
 * health check suspends a node, and every directory leaves it out of the list its routers and load
 * balancer see until it is restored or its suspension lapses. Directories recompute their lists
 * when this changes, never per call. Scope: one per application (token `NODE_AVAILABILITY`).
 */
export class NodeAvailability {
  private readonly suspended = new Map<string, Suspension>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  /** Takes `address` out of rotation, for `ms` (0 = until restored). */
  suspend(address: string, reason: string, ms = 0): void {
    const until = ms > 0 ? Date.now() + ms : 0;
    this.suspended.set(address, { reason, until });
    if (until > 0) this.schedule(ms);
    this.changed();
  }

  /** Brings `address` back into rotation. */
  restore(address: string): void {
    if (this.suspended.delete(address)) this.changed();
  }

  /** The suspension of `address`, or undefined when it is in rotation. */
  suspensionOf(address: string): Suspension | undefined {
    const s = this.suspended.get(address);
    if (s !== undefined && s.until > 0 && s.until <= Date.now()) {
      this.suspended.delete(address);
      return undefined;
    }
    return s;
  }

  /** True when no node is suspended: directories skip filtering entirely. */
  get empty(): boolean {
    return this.suspended.size === 0;
  }

  /** Called after every change; returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      let next = 0;
      for (const [address, s] of this.suspended) {
        if (s.until > 0 && s.until <= now) this.suspended.delete(address);
        else if (s.until > 0) next = next === 0 ? s.until - now : Math.min(next, s.until - now);
      }
      if (next > 0) this.schedule(next);
      this.changed();
    }, ms);
    this.timer.unref();
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

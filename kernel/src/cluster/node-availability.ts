/** Why a node is out of rotation, and until when. */
export interface Suspension {
  readonly reason: string;
  /** Epoch ms after which the node is back by itself; 0 = until `restore`. */
  readonly until: number;
  /** Who suspended it (`circuitbreaker`, `health`, ...): each holder lifts only its own suspension. */
  readonly holder: string;
}

/**
 * Which provider nodes are out of rotation, by address (`host:port`): a circuit breaker or a
 * health check suspends a node, and every directory leaves it out of the list its routers and load
 * balancer see until it is restored or its suspension lapses. Directories recompute their lists
 * when this changes, never per call. Several holders may suspend one node at once (a breaker for
 * `openMs`, a health check until a probe answers): the node returns when every holder has let go.
 * Scope: one per application (token `NODE_AVAILABILITY`).
 */
export class NodeAvailability {
  /** Told of each node leaving or rejoining rotation (the application's events). */
  constructor(private readonly events?: { emit(type: string, fields: Record<string, unknown>): void }) {}

  private readonly suspended = new Map<string, Map<string, Suspension>>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;

  /**
   * Takes `address` out of rotation, for `ms` (0 = until restored). `holder` names who suspends it
   * (default `''`); a second suspension by the same holder replaces the first.
   */
  suspend(address: string, reason: string, ms = 0, holder = ''): void {
    const until = ms > 0 ? Date.now() + ms : 0;
    let byHolder = this.suspended.get(address);
    if (byHolder === undefined) this.suspended.set(address, (byHolder = new Map()));
    if (byHolder.size === 0) this.events?.emit('node:suspended', { address, holder, reason });
    byHolder.set(holder, { reason, until, holder });
    if (until > 0) this.schedule(until);
    this.changed();
  }

  /** Brings `address` back into rotation: only `holder`'s suspension when given, else every one. */
  restore(address: string, holder?: string): void {
    const byHolder = this.suspended.get(address);
    if (byHolder === undefined) return;
    if (holder === undefined) this.suspended.delete(address);
    else {
      if (!byHolder.delete(holder)) return;
      if (byHolder.size === 0) this.suspended.delete(address);
    }
    if (!this.suspended.has(address)) this.events?.emit('node:restored', { address, holder: holder ?? '' });
    this.changed();
  }

  /** A suspension of `address` in force (an indefinite one first), or undefined when it is in rotation. */
  suspensionOf(address: string): Suspension | undefined {
    const byHolder = this.suspended.get(address);
    if (byHolder === undefined) return undefined;
    // Lapsed entries are left for the sweep, which tells the directories; deleting them here would hide the lapse from it.
    const now = Date.now();
    let found: Suspension | undefined;
    for (const s of byHolder.values()) {
      if (s.until > 0 && s.until <= now) continue;
      if (found === undefined || s.until === 0) found = s;
    }
    return found;
  }

  /** The suspension `holder` holds on `address`, if in force. */
  heldBy(address: string, holder: string): Suspension | undefined {
    const s = this.suspended.get(address)?.get(holder);
    return s !== undefined && (s.until === 0 || s.until > Date.now()) ? s : undefined;
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

  /** One timer for the earliest lapse; it sweeps lapsed suspensions and tells the listeners. */
  private schedule(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    this.timerAt = 0;
    const now = Date.now();
    let next = 0;
    let lapsed = false;
    for (const [address, byHolder] of this.suspended) {
      for (const [holder, s] of byHolder) {
        if (s.until > 0 && s.until <= now) {
          byHolder.delete(holder);
          lapsed = true;
        } else if (s.until > 0) next = next === 0 ? s.until : Math.min(next, s.until);
      }
      if (byHolder.size === 0) {
        this.suspended.delete(address);
        this.events?.emit('node:restored', { address, holder: '', reason: 'lapsed' });
      }
    }
    if (next > 0) this.schedule(next);
    if (lapsed) this.changed();
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

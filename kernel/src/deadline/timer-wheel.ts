/** Something with a deadline that the wheel calls back once when it passes. */
export interface TimedEntry {
  /** Epoch ms. */
  readonly deadline: number;
  /** The wheel's bookkeeping: slot and position, -1 when not in a wheel. */
  wheelSlot: number;
  wheelIndex: number;
  expire(now: number): void;
}

const SLOTS = 512;

/**
 * One coarse timer for every deadline of the process (a hashed timing wheel). Adding and removing
 * an entry is O(1) and allocates nothing; the timer runs only while entries exist, every `tick`
 * ms (it stops at the first tick that finds the wheel empty), and an entry expires between its
 * deadline and one tick after it. Entries further out than
 * one turn of the wheel stay in their slot and are looked at once per turn.
 * Scope: one per process (`deadlineWheel`); event loop only.
 */
export class TimerWheel {
  private readonly slots: TimedEntry[][] = Array.from({ length: SLOTS }, () => []);
  private cursor = 0;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly tick = 10) {}

  /** Entries waiting now. */
  get pending(): number {
    return this.size;
  }

  add(entry: TimedEntry): void {
    if (this.timer === undefined) this.start();
    let at = Math.ceil(entry.deadline / this.tick);
    if (at <= this.cursor) at = this.cursor + 1;
    const slotIndex = at % SLOTS;
    const slot = this.slots[slotIndex];
    entry.wheelSlot = slotIndex;
    entry.wheelIndex = slot.length;
    slot.push(entry);
    this.size++;
  }

  remove(entry: TimedEntry): void {
    const slotIndex = entry.wheelSlot;
    if (slotIndex < 0) return;
    const slot = this.slots[slotIndex];
    const last = slot.pop()!;
    if (last !== entry) {
      slot[entry.wheelIndex] = last;
      last.wheelIndex = entry.wheelIndex;
    }
    entry.wheelSlot = -1;
    // The timer stops at its next tick if nothing is left: a call every few ms must not set up
    // and tear down an interval each time.
    this.size--;
  }

  private start(): void {
    this.cursor = Math.floor(Date.now() / this.tick);
    // Ref'd on purpose: a call waiting on its deadline is work the process still has to finish.
    this.timer = setInterval(this.advance, this.tick);
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly advance = (): void => {
    const now = Date.now();
    const target = Math.floor(now / this.tick);
    let expired: TimedEntry[] | undefined;
    // After a long stall, one turn of the wheel visits every slot once.
    const from = Math.max(this.cursor + 1, target - SLOTS + 1);
    for (let t = from; t <= target; t++) {
      const slot = this.slots[t % SLOTS];
      for (let i = 0; i < slot.length; ) {
        const entry = slot[i];
        if (entry.deadline > now) {
          i++;
          continue;
        }
        const last = slot.pop()!;
        if (last !== entry) {
          slot[i] = last;
          last.wheelIndex = i;
        }
        entry.wheelSlot = -1;
        this.size--;
        (expired ??= []).push(entry);
      }
    }
    this.cursor = target;
    if (this.size === 0) this.stop();
    // Expire after the sweep: a callback may add or remove entries.
    if (expired !== undefined) for (const entry of expired) entry.expire(now);
  };
}

/** The process's one deadline timer. */
export const deadlineWheel = new TimerWheel();

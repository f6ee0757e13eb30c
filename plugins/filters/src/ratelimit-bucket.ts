import { loopNow } from '@plexus/kernel/spi';

/** A clock in milliseconds; tests pass their own. */
export type Clock = () => number;

/**
 * A token bucket: `burst` permits when full, refilled at `rate` per second, one permit per call.
 * Refills lazily when asked (no timer), so an idle limit costs nothing. Scope: one per limited
 * service or method in a process; synchronous, so JS's one thread makes it safe.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly clock: Clock = loopNow,
  ) {
    this.tokens = burst;
    this.last = clock();
    this.perMs = rate / 1000;
  }

  /** Takes one permit when there is one. */
  tryTake(): boolean {
    const now = this.clock();
    // A clock that stepped back refills nothing and is not held against the bucket.
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    }
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

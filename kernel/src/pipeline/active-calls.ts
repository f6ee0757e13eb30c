/**
 * Counts calls in flight and wakes `drain` waiters when the count reaches 0: what executors and
 * protocols need for a graceful stop. Scope: one per executor or protocol; event loop only.
 */
export class ActiveCalls {
  count = 0;
  private waiters: Array<() => void> = [];

  enter(): void {
    this.count++;
  }

  leave(): void {
    if (--this.count === 0 && this.waiters.length > 0) this.release();
  }

  /** Resolves when the count is 0, or after `timeoutMs`, whichever comes first. Never rejects. */
  drain(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.push(done);
    });
  }

  /** Wakes every `drain` waiter now (the owner is closing for good). */
  release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * What the idle monitor and the watchdog share: a set of channels and one coarse, unref'd
 * interval that runs while the set is not empty. Subclasses say what a tick does to each channel.
 */
export abstract class ChannelTicker<T> {
  protected readonly watched = new Set<T>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly tickMs: number) {}

  get size(): number {
    return this.watched.size;
  }

  add(channel: T): void {
    this.watched.add(channel);
    if (this.timer === undefined) {
      this.timer = setInterval(this.tick, this.tickMs);
      this.timer.unref();
    }
  }

  delete(channel: T): void {
    this.watched.delete(channel);
    if (this.watched.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One tick: each watched channel, once. */
  protected abstract readonly tick: () => void;
}

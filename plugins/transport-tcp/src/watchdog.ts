import { ChannelTicker } from './ticker';

/** What the watchdog needs from a channel. */
export interface WatchdogWatched {
  /** One tick passed; the channel checks its own deadlines (frame, write stall). */
  watchdogTick(): void;
}

/**
 * One coarse, unref'd interval that ticks every watched channel, for the deadlines a peer can run
 * into (a frame that must complete, a write queue that must drain). Channels count ticks instead
 * of reading the clock or arming a timer per frame: the read path only sets a flag, and after the
 * event loop was blocked the interval fires once, so a stall of this process is not blamed on its
 * peers. A deadline of `t` ms fires between `t` and `t + tickMs` after it started. Scope: per
 * server, or per transport and tick for client channels.
 */
export class Watchdog extends ChannelTicker<WatchdogWatched> {
  /** Whole ticks that cover `ms` (0 when `ms` is 0: the deadline is off). */
  ticksFor(ms: number): number {
    return ms > 0 ? Math.max(1, Math.ceil(ms / this.tickMs)) : 0;
  }

  protected readonly tick = (): void => {
    for (const ch of this.watched) ch.watchdogTick();
  };
}

/**
 * The tick of a watchdog for these deadlines: a quarter of the shortest one that is on, so each
 * fires at most 25 % late, and never under 10 ms. Undefined when every deadline is off.
 */
export function watchdogTick(...deadlines: number[]): number | undefined {
  const on = deadlines.filter((d) => d > 0);
  if (on.length === 0) return undefined;
  return Math.max(10, Math.floor(Math.min(...on) / 4));
}

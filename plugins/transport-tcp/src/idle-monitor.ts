import { ChannelTicker } from './ticker';

/** What the monitor needs from a channel; `idleTicks` and `missed` are reset by every read. */
export interface IdleWatched {
  idleTicks: number;
  missed: number;
  /** Called when a whole heartbeat period passed without a read; `missed` was already counted. */
  idlePeriod(idleMs: number): void;
}

/**
 * One coarse, unref'd interval per heartbeat period that ages every watched channel, instead of a
 * timer reset on every read: the read path only zeroes two counters.
 *
 * The interval ticks four times per period. A channel is idle once more than a whole period's ticks
 * passed since its last read, so the first idle period is detected between 1 and 1.25 periods
 * after the last read and every further one a period later. Scope: per server, or per transport
 * and heartbeat value for client channels.
 */
export class IdleMonitor extends ChannelTicker<IdleWatched> {
  private readonly ticksPerPeriod: number;

  constructor(readonly heartbeat: number) {
    super(Math.max(1, Math.floor(heartbeat / 4)));
    this.ticksPerPeriod = Math.max(1, Math.round(heartbeat / this.tickMs));
  }

  override add(channel: IdleWatched): void {
    channel.idleTicks = 0;
    channel.missed = 0;
    super.add(channel);
  }

  protected readonly tick = (): void => {
    const period = this.ticksPerPeriod;
    for (const ch of this.watched) {
      // The first period needs one extra tick: the read that zeroed the counter fell somewhere
      // inside a tick, and a period must never be shorter than `heartbeat`.
      if (++ch.idleTicks <= (ch.missed === 0 ? period : period - 1)) continue;
      ch.idleTicks = 0;
      ch.missed++;
      ch.idlePeriod(this.heartbeat * ch.missed);
    }
  };
}

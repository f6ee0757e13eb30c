import type { Logger } from '@plexus/kernel/spi';

/** What a throttled warning needs from an error. */
interface Coded {
  readonly code: string;
  readonly message: string;
}

/**
 * Warnings that a peer can trigger at will (refused connections, timeouts it provokes) logged at
 * most once per `interval` per error code, each line saying how many were left out since the
 * previous one: a flood of attackers cannot turn into a flood of log lines. Scope: per transport.
 */
export class ThrottledLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger | undefined,
    private readonly interval = 10_000,
  ) {}

  warn(error: Coded, fields: Record<string, unknown> = {}): void {
    if (this.logger === undefined) return;
    const now = Date.now();
    const seen = this.last.get(error.code);
    if (seen !== undefined && now - seen.at < this.interval) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.last.set(error.code, { at: now, suppressed: 0 });
    const more = suppressed > 0 ? ` (and ${suppressed} more like it since the last such line)` : '';
    this.logger.warn(`transport: ${error.message}${more}`, { code: error.code, ...fields });
  }
}

import type { Logger } from '../spi/logger';

/**
 * SIGTERM/SIGINT handling of an application (DESIGN §8, §12): the first signal starts a graceful
 * stop — also while the application is still starting — and exits when it finished; a second
 * signal while stopping is logged and does not cut in-flight calls short (the stop is bounded by
 * `shutdownTimeout` anyway). Installed only by applications that export on the network, and only
 * when `application.handleSignals` is not false. Scope: one per application.
 */
export class ProcessSignals {
  private handler?: (signal: NodeJS.Signals) => void;
  private received = 0;

  constructor(
    private readonly logger: Logger,
    private readonly stop: () => Promise<void>,
  ) {}

  get installed(): boolean {
    return this.handler !== undefined;
  }

  install(): void {
    if (this.handler) return;
    this.handler = (signal) => {
      this.received++;
      if (this.received > 1) {
        this.logger.warn(`${signal} received again: already stopping gracefully; in-flight calls keep their time (shutdownTimeout)`);
        return;
      }
      this.logger.info(`${signal} received: stopping gracefully`);
      this.stop().then(
        () => process.exit(0),
        (err: Error) => {
          this.logger.error(`stop failed: ${err.message}`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', this.handler);
    process.on('SIGINT', this.handler);
  }

  /** Removes the handlers unless a signal already started the stop (then they swallow repeats until exit). */
  remove(): void {
    if (!this.handler || this.received > 0) return;
    process.removeListener('SIGTERM', this.handler);
    process.removeListener('SIGINT', this.handler);
    this.handler = undefined;
  }
}

import { AppErrors } from '../errors/catalogue';
import { callStorage } from '../pipeline/call-context';
import type { Logger } from '../spi/logger';

/**
 * Process-level handling of an application that serves on the network (DESIGN §8, §12):
 *
 * - **Signals.** The first SIGTERM/SIGINT starts a graceful stop — also while the application is
 *   still starting — and exits when it finished; a second signal while stopping is logged and does
 *   not cut in-flight calls short (`shutdownTimeout` bounds the stop anyway).
 *   Off with `application.handleSignals: false`.
 * - **Errors user code leaves behind.** An unhandled rejection, or an exception thrown from a
 *   timer or callback a provider method started, is logged with the service, method and caller of
 *   the call it came from (`PLEXUS_ERR_APP_UNHANDLED`), and the provider keeps serving: one call's
 *   leftover work must not take every other caller down. An exception from outside any call is
 *   logged and ends the process with code 1, as Node would — unless the application installed an
 *   `uncaughtException` listener of its own, which then decides. Off with
 *   `application.handleErrors: false`.
 *
 * Scope: one per application.
 */
export class ProcessSignals {
  private handler?: (signal: NodeJS.Signals) => void;
  private received = 0;
  private errorsInstalled = false;

  constructor(
    private readonly logger: Logger,
    private readonly stop: () => Promise<void>,
  ) {}

  install(options: { signals: boolean; errors: boolean }): void {
    if (options.signals && !this.handler) {
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
    if (options.errors && !this.errorsInstalled) {
      this.errorsInstalled = true;
      errorLoggers.add(this.logger);
      if (errorLoggers.size === 1) {
        process.on('unhandledRejection', onRejection);
        process.on('uncaughtException', onException);
      }
    }
  }

  /** Removes the handlers unless a signal already started the stop (then they swallow repeats until exit). */
  remove(): void {
    if (this.errorsInstalled) {
      this.errorsInstalled = false;
      errorLoggers.delete(this.logger);
      if (errorLoggers.size === 0) {
        process.removeListener('unhandledRejection', onRejection);
        process.removeListener('uncaughtException', onException);
      }
    }
    if (!this.handler || this.received > 0) return;
    process.removeListener('SIGTERM', this.handler);
    process.removeListener('SIGINT', this.handler);
    this.handler = undefined;
  }
}

/** Loggers of the applications that handle errors; the process-level listeners exist once. */
const errorLoggers = new Set<Logger>();

function onRejection(reason: unknown): void {
  report('an unhandled rejection', reason);
}

function onException(err: Error): void {
  const inCall = report('an uncaught exception', err);
  // Outside any call nothing says the process is still sound: end it as Node would, unless the
  // application handles uncaught exceptions itself.
  if (!inCall && process.listenerCount('uncaughtException') === 1) process.exit(1);
}

/** Logs what user code left behind, naming the call it came from; true when it came from one. */
function report(what: string, value: unknown): boolean {
  const ctx = callStorage.getStore();
  const where = ctx ? `${ctx.service}.${ctx.method} (called from ${ctx.remoteAddress ?? 'unknown'})` : 'code outside any call';
  const err = AppErrors.UNHANDLED(what, where, describe(value));
  const logger = errorLoggers.values().next().value as Logger;
  logger.error(err.message, { code: err.code, service: ctx?.service, method: ctx?.method, stack: stackOf(value) });
  return ctx !== undefined;
}

function describe(value: unknown): string {
  try {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    return typeof value === 'string' ? value : String(value);
  } catch {
    return 'a value that cannot be printed';
  }
}

function stackOf(value: unknown): string | undefined {
  try {
    return value instanceof Error ? value.stack : undefined;
  } catch {
    return undefined;
  }
}

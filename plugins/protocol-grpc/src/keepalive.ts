import type { Http2Session } from 'node:http2';
import type { Logger } from '@plexus/kernel/spi';
import { GrpcErrors } from './errors';

/**
 * Keepalive of one HTTP/2 connection, either side: a PING every `interval` ms; one not answered
 * within `timeout` ms closes the connection, so a peer that vanished without a FIN (a pulled cable,
 * a frozen process) stops holding calls and memory. One timer per connection, unref'd.
 */
export function keepAlive(session: Http2Session, interval: number, timeout: number, remote: string, logger: Logger): void {
  let waiting: NodeJS.Timeout | undefined;
  const timer = setInterval(() => {
    if (session.destroyed || session.closed || waiting !== undefined) return;
    waiting = setTimeout(() => {
      const err = GrpcErrors.KEEPALIVE(remote, timeout);
      logger.warn(err.message, { code: err.code, remote });
      session.destroy();
    }, timeout);
    waiting.unref();
    try {
      session.ping((error) => {
        if (waiting !== undefined) clearTimeout(waiting);
        waiting = undefined;
        if (error && !session.destroyed) session.destroy();
      });
    } catch {
      // the session is closing; its close clears the timers
    }
  }, interval);
  timer.unref();
  session.once('close', () => {
    clearInterval(timer);
    if (waiting !== undefined) clearTimeout(waiting);
  });
}

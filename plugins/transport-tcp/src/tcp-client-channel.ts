import * as net from 'node:net';
import * as tls from 'node:tls';
import { PlexusError, type ChannelHandler, type ClientChannel, type ConnectOptions } from '@plexus/kernel/spi';
import { endpointAddress } from './address';
import {
  ERR_TCP_CONNECT_FAILED,
  ERR_TCP_CONNECT_REFUSED,
  ERR_TCP_CONNECT_TIMEOUT,
  ERR_TCP_DESTROYED,
  ERR_TCP_NOT_CONNECTED,
} from './errors';
import type { IdleMonitor } from './idle-monitor';
import { TcpChannel, type ChannelSettings } from './tcp-channel';
import type { ResolvedTls } from './tls-material';
import type { Watchdog } from './watchdog';

/** Reconnect backoff, resolved from `ConnectOptions.reconnect`. */
export interface Backoff {
  readonly initialDelay: number;
  readonly maxDelay: number;
}

/** Everything a client channel needs to dial, resolved once by {@link TcpTransport.connect}. */
export interface DialPlan {
  readonly options: ConnectOptions;
  readonly host: string;
  readonly tls: ResolvedTls | undefined;
  readonly connectTimeout: number;
  /** Undefined when reconnecting is off. */
  readonly backoff: Backoff | undefined;
  /** The idle monitor for this channel's heartbeat, or undefined when heartbeats are off. */
  readonly monitor: IdleMonitor | undefined;
  /** The watchdog for frame and write-stall deadlines, or undefined when both are off. */
  readonly watchdog: Watchdog | undefined;
}

type Phase = 'idle' | 'connecting' | 'open' | 'backoff' | 'destroyed';

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

const REFUSED = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE']);

/**
 * A client connection that dials on `connect()` and, once it has been open, reconnects by itself
 * after an unexpected close with jittered exponential backoff, calling `onClose` and then `onOpen`
 * again. `close()` drops the current connection (a reconnect follows when enabled); `destroy()`
 * stops for good. A `connect()` that fails before the channel was ever open only rejects: the
 * caller decides whether to try again.
 *
 * Scope: one per provider address, owned by the protocol; event loop thread only.
 */
export class TcpClientChannel extends TcpChannel implements ClientChannel {
  private phase: Phase = 'idle';
  private everOpen = false;
  private failures = 0;
  private waiters: Waiter[] = [];
  private dialing: net.Socket | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private readonly target: string;

  constructor(
    handler: ChannelHandler,
    settings: ChannelSettings,
    private readonly plan: DialPlan,
  ) {
    super(handler, settings, plan.options.path);
    this.target = endpointAddress(plan.options, plan.host);
    this.remoteAddress = this.target;
  }

  connect(): Promise<void> {
    if (this.phase === 'destroyed') return Promise.reject(ERR_TCP_DESTROYED(this.target));
    if (this.isOpen) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    // While connecting, closing or backing off, the caller waits for the next attempt's outcome;
    // dialing now would defeat the backoff whenever many calls wait for one provider.
    if (this.phase === 'idle') this.dial();
    return done;
  }

  destroy(): void {
    if (this.phase === 'destroyed') return;
    this.phase = 'destroyed';
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.settle(ERR_TCP_DESTROYED(this.target));
    this.dialing?.destroy();
    this.close();
  }

  protected override notOpenError(): Error {
    return this.phase === 'destroyed' ? ERR_TCP_DESTROYED(this.target) : ERR_TCP_NOT_CONNECTED(this.target);
  }

  protected override detached(): void {
    if (this.phase === 'destroyed') return;
    if (this.plan.backoff !== undefined) this.retryLater();
    else if (this.waiters.length > 0) this.dial();
    else this.phase = 'idle';
  }

  private dial(): void {
    this.phase = 'connecting';
    const { options, host, tls: tlsPlan, connectTimeout } = this.plan;
    let socket: net.Socket;
    let readyEvent: string;
    if (tlsPlan !== undefined) {
      const tlsOptions: tls.ConnectionOptions = {
        key: tlsPlan.key,
        cert: tlsPlan.cert,
        ca: tlsPlan.ca,
        passphrase: tlsPlan.passphrase,
        rejectUnauthorized: tlsPlan.rejectUnauthorized,
      };
      if (tlsPlan.servername !== undefined) tlsOptions.servername = tlsPlan.servername;
      if (options.path !== undefined) tlsOptions.path = options.path;
      else {
        tlsOptions.host = host;
        tlsOptions.port = options.port;
      }
      socket = tls.connect(tlsOptions);
      readyEvent = 'secureConnect';
    } else {
      socket = options.path !== undefined ? net.connect({ path: options.path }) : net.connect({ host, port: options.port! });
      readyEvent = 'connect';
    }
    this.dialing = socket;
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = ERR_TCP_CONNECT_TIMEOUT(this.target, connectTimeout);
      socket.destroy();
    }, connectTimeout);
    timer.unref();
    const onError = (err: Error): void => {
      failure ??= this.classify(err);
    };
    const onEarlyClose = (): void => {
      clearTimeout(timer);
      socket.off(readyEvent, onReady);
      this.dialing = undefined;
      this.dialFailed(failure ?? ERR_TCP_CONNECT_REFUSED(this.target, 'closed during connect'));
    };
    const onReady = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('close', onEarlyClose);
      this.dialing = undefined;
      if (this.phase === 'destroyed') {
        socket.on('error', () => {});
        socket.destroy();
        return;
      }
      this.phase = 'open';
      this.everOpen = true;
      this.failures = 0;
      this.attach(socket, this.plan.monitor, this.plan.watchdog);
      this.settle(undefined);
      const onOpen = this.handler.onOpen;
      if (onOpen !== undefined && this.isOpen) this.guard('onOpen', () => onOpen.call(this.handler, this));
    };
    socket.on('error', onError);
    socket.once('close', onEarlyClose);
    socket.once(readyEvent, onReady);
  }

  private dialFailed(error: Error): void {
    this.settle(error);
    if (this.phase === 'destroyed') return;
    if (this.everOpen && this.plan.backoff !== undefined) this.retryLater();
    else this.phase = 'idle';
  }

  private retryLater(): void {
    const { initialDelay, maxDelay } = this.plan.backoff!;
    const ceiling = Math.min(maxDelay, initialDelay * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // Half fixed, half random: never hammers, and peers that lost the same provider spread out.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.phase = 'backoff';
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.phase === 'backoff') this.dial();
    }, delay);
    this.backoffTimer.unref();
  }

  private settle(error: Error | undefined): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  }

  private classify(err: Error): Error {
    if (PlexusError.is(err)) return err;
    const code = (err as NodeJS.ErrnoException).code;
    const cause = code !== undefined ? `${code}: ${err.message}` : err.message;
    const e =
      code === 'ETIMEDOUT'
        ? ERR_TCP_CONNECT_TIMEOUT(this.target, this.plan.connectTimeout)
        : code !== undefined && REFUSED.has(code)
          ? ERR_TCP_CONNECT_REFUSED(this.target, cause)
          : ERR_TCP_CONNECT_FAILED(this.target, cause);
    e.cause = err;
    return e;
  }
}

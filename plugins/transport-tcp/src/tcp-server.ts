import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Channel, ChannelHandler, ListenOptions, TransportServer } from '@plexus/kernel/spi';
import { formatAddress } from './address';
import { ERR_TCP_HANDSHAKE_TIMEOUT, ERR_TCP_LISTEN, ERR_TCP_TOO_MANY_CONNECTIONS } from './errors';
import { IdleMonitor } from './idle-monitor';
import { TcpChannel, type ChannelSettings } from './tcp-channel';
import type { ResolvedTls } from './tls-material';
import { Watchdog, watchdogTick } from './watchdog';

/** What {@link TcpServer.open} needs, resolved by {@link TcpTransport.listen}. */
export interface ServerPlan {
  readonly options: ListenOptions;
  readonly host: string;
  readonly tls: ResolvedTls | undefined;
  readonly heartbeat: number;
  readonly backlog: number;
  /** ms; 0 turns it off. TLS only. */
  readonly handshakeTimeout: number;
  /** Infinity when unlimited. */
  readonly maxConnections: number;
  readonly maxConnectionsPerRemote: number;
}

/**
 * A listening TCP, TLS or Unix-socket server and the channels it accepted.
 *
 * One coarse idle monitor per server ages all its channels for heartbeats, and one watchdog ticks
 * them for the frame and write-stall deadlines. Connections over `maxConnections` (in total) or
 * `maxConnectionsPerRemote` (from one IP address) are closed as they arrive, and a TLS connection
 * that has not finished its handshake after `handshakeTimeout` is closed; both are logged at most
 * once per interval. `close()` stops accepting, flushes and ends every channel, and resolves once
 * every socket is gone (a peer that does not answer the close is cut off after `closeTimeout`).
 * Scope: one per listening address.
 */
export class TcpServer implements TransportServer {
  readonly address: string;
  readonly port: number;
  private readonly live = new Set<TcpChannel>();
  /** Every accepted socket, handshaken or not, so close() can cut off stragglers (a TLS handshake in progress has no channel yet). */
  private readonly sockets = new Set<net.Socket>();
  private closed: Promise<void> | undefined;
  /** Set while closing: resolves close() once the listener and every channel are gone. */
  private allClosed: (() => void) | undefined;
  /** Accepted sockets per remote IP address. */
  private readonly perRemote = new Map<string, number>();
  private readonly watchdog: Watchdog | undefined;

  private constructor(
    private readonly server: net.Server,
    private readonly handler: ChannelHandler,
    private readonly settings: ChannelSettings,
    private readonly monitor: IdleMonitor | undefined,
    private readonly path: string | undefined,
    private readonly plan: ServerPlan,
  ) {
    const bound = server.address();
    if (typeof bound === 'string' || bound === null) {
      this.address = path ?? String(bound);
      this.port = 0;
    } else {
      this.address = formatAddress(bound.address, bound.port);
      this.port = bound.port;
    }
    const tick = watchdogTick(settings.frameTimeout, settings.writeStallTimeout);
    this.watchdog = tick !== undefined ? new Watchdog(tick) : undefined;
    // Node enforces the total cap before a socket object is even made, and says so with 'drop'.
    if (Number.isFinite(plan.maxConnections)) server.maxConnections = plan.maxConnections;
    server.on('drop', (data?: { remoteAddress?: string }) =>
      this.refused(`over maxConnections (${plan.maxConnections})`, data?.remoteAddress),
    );
    server.on('connection', (socket: net.Socket) => {
      // Errors before the channel exists (a refused TLS handshake, a reset) belong to nobody.
      socket.on('error', () => {});
      const remote = socket.remoteAddress;
      if (remote !== undefined && Number.isFinite(plan.maxConnectionsPerRemote)) {
        const held = this.perRemote.get(remote) ?? 0;
        if (held >= plan.maxConnectionsPerRemote) {
          socket.destroy();
          this.refused(`${remote} holds maxConnectionsPerRemote (${plan.maxConnectionsPerRemote})`, remote);
          return;
        }
        this.perRemote.set(remote, held + 1);
        socket.once('close', () => {
          const n = (this.perRemote.get(remote) ?? 1) - 1;
          if (n > 0) this.perRemote.set(remote, n);
          else this.perRemote.delete(remote);
        });
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on(server instanceof tls.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => {
      if (!socket.destroyed) this.accept(socket);
    });
    // With a listener here Node leaves the failed socket open: closing it is ours to do.
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      const remote = formatAddress(socket.remoteAddress, socket.remotePort) || 'a client';
      socket.destroy();
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
        settings.warnings?.warn(ERR_TCP_HANDSHAKE_TIMEOUT(remote, plan.handshakeTimeout), { address: this.address });
      } else {
        settings.logger?.debug('transport: TLS handshake refused', { address: this.address, remote, error: err.message });
      }
    });
    // Accept failures (EMFILE and the like) must not crash the process; the server keeps listening.
    server.on('error', (err: Error) => {
      settings.logger?.error('transport: server error', { address: this.address, error: err.message });
    });
  }

  /** Binds and resolves once listening; rejects with `PLEXUS_ERR_TCP_LISTEN`. */
  static open(plan: ServerPlan, handler: ChannelHandler, settings: ChannelSettings): Promise<TcpServer> {
    const { options, tls: tlsPlan } = plan;
    const server: net.Server =
      tlsPlan !== undefined
        ? tls.createServer({
            // Node's own timer: from accept to the end of the handshake, whatever bytes arrive.
            handshakeTimeout: plan.handshakeTimeout > 0 ? plan.handshakeTimeout : 0x7fffffff,
            key: tlsPlan.key,
            cert: tlsPlan.cert,
            ca: tlsPlan.ca,
            passphrase: tlsPlan.passphrase,
            requestCert: tlsPlan.requestCert,
            rejectUnauthorized: tlsPlan.rejectUnauthorized,
          })
        : net.createServer();
    const listenOn: net.ListenOptions =
      options.path !== undefined
        ? { path: options.path, backlog: plan.backlog }
        : { host: plan.host, port: options.port, backlog: plan.backlog };
    const wanted = options.path ?? formatAddress(plan.host, options.port);
    return new Promise<TcpServer>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        server.off('listening', onListening);
        const e = ERR_TCP_LISTEN(wanted, err.code !== undefined ? `${err.code}: ${err.message}` : err.message);
        e.cause = err;
        reject(e);
      };
      const onListening = (): void => {
        server.off('error', onError);
        const monitor = plan.heartbeat > 0 ? new IdleMonitor(plan.heartbeat) : undefined;
        resolve(new TcpServer(server, handler, settings, monitor, options.path, plan));
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(listenOn);
    });
  }

  channels(): Iterable<Channel> {
    return this.live.values();
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      let listenerClosed = false;
      const settle = (): void => {
        if (!listenerClosed || this.live.size > 0) return;
        clearTimeout(cutoff);
        this.monitor?.stop();
        this.watchdog?.stop();
        this.allClosed = undefined;
        resolve();
      };
      this.allClosed = settle;
      const cutoff = setTimeout(() => {
        for (const s of this.sockets) s.destroy();
      }, this.settings.closeTimeout);
      cutoff.unref();
      // net.Server.close stops accepting and calls back once every accepted socket has closed.
      this.server.close(() => {
        listenerClosed = true;
        settle();
      });
      for (const ch of [...this.live]) ch.close();
    });
    return this.closed;
  }

  private accept(socket: net.Socket): void {
    if (this.closed !== undefined) {
      socket.destroy();
      return;
    }
    const ch = new ServerChannel(this.handler, this.settings, this.path, (c) => {
      this.live.delete(c);
      this.allClosed?.();
    });
    this.live.add(ch);
    ch.bind(socket, this.monitor, this.watchdog);
  }

  /** Logs refused connections, throttled: a flood costs one line per interval, not one per socket. */
  private refused(detail: string, remote: string | undefined): void {
    this.settings.warnings?.warn(ERR_TCP_TOO_MANY_CONNECTIONS(this.address, detail), { address: this.address, remote });
  }
}

/** A server-side channel: bound to one accepted socket for life. */
class ServerChannel extends TcpChannel {
  protected override readonly pauseReads = true;

  bind(socket: net.Socket, monitor: IdleMonitor | undefined, watchdog: Watchdog | undefined): void {
    this.attach(socket, monitor, watchdog);
    const onOpen = this.handler.onOpen;
    if (onOpen !== undefined && this.isOpen) this.guard('onOpen', () => onOpen.call(this.handler, this));
  }
}

import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Channel, ChannelHandler, ListenOptions, TransportServer } from '@plexus/kernel/spi';
import { formatAddress } from './address';
import { ERR_TCP_LISTEN } from './errors';
import { IdleMonitor } from './idle-monitor';
import { TcpChannel, type ChannelSettings } from './tcp-channel';
import type { ResolvedTls } from './tls-material';

/** What {@link TcpServer.open} needs, resolved by {@link TcpTransport.listen}. */
export interface ServerPlan {
  readonly options: ListenOptions;
  readonly host: string;
  readonly tls: ResolvedTls | undefined;
  readonly heartbeat: number;
  readonly backlog: number;
}

/**
 * A listening TCP, TLS or Unix-socket server and the channels it accepted.
 *
 * One coarse idle monitor per server ages all its channels for heartbeats. `close()` stops
 * accepting, flushes and ends every channel, and resolves once every socket is gone (a peer that
 * does not answer the close is cut off after `closeTimeout`). Scope: one per listening address.
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

  private constructor(
    private readonly server: net.Server,
    private readonly handler: ChannelHandler,
    private readonly settings: ChannelSettings,
    private readonly monitor: IdleMonitor | undefined,
    private readonly path: string | undefined,
  ) {
    const bound = server.address();
    if (typeof bound === 'string' || bound === null) {
      this.address = path ?? String(bound);
      this.port = 0;
    } else {
      this.address = formatAddress(bound.address, bound.port);
      this.port = bound.port;
    }
    server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // Errors before the channel exists (a refused TLS handshake, a reset) belong to nobody.
      socket.on('error', () => {});
    });
    server.on(server instanceof tls.Server ? 'secureConnection' : 'connection', (socket: net.Socket) =>
      this.accept(socket),
    );
    server.on('tlsClientError', (err: Error) => {
      settings.logger?.debug('transport: TLS handshake refused', { address: this.address, error: err.message });
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
        resolve(new TcpServer(server, handler, settings, monitor, options.path));
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
    ch.bind(socket, this.monitor);
  }
}

/** A server-side channel: bound to one accepted socket for life. */
class ServerChannel extends TcpChannel {
  bind(socket: net.Socket, monitor: IdleMonitor | undefined): void {
    this.attach(socket, monitor);
    const onOpen = this.handler.onOpen;
    if (onOpen !== undefined && this.isOpen) this.guard('onOpen', () => onOpen.call(this.handler, this));
  }
}

export const TRANSPORT = Symbol.for('plexus.transport');
export const DEFAULT_TRANSPORT = 'tcp';

/** TLS settings; file paths or PEM contents. Mutual TLS when the server sets `requestCert`. */
export interface TlsOptions {
  key?: string | Buffer;
  cert?: string | Buffer;
  ca?: string | Buffer | Array<string | Buffer>;
  /** Server: ask for and verify a client certificate (mutual TLS). */
  requestCert?: boolean;
  /** Default true. */
  rejectUnauthorized?: boolean;
  servername?: string;
  passphrase?: string;
}

export interface EndpointOptions {
  host?: string;
  port?: number;
  /** A Unix socket path; replaces host and port. */
  path?: string;
  tls?: TlsOptions;
  /** Read idle time before `onIdle` fires, in ms (default 60000). 0 disables heartbeats. */
  heartbeat?: number;
  /** Consecutive idle periods after which the channel is closed (default 3). */
  heartbeatMisses?: number;
}

export interface ListenOptions extends EndpointOptions {
  backlog?: number;
}

export interface ConnectOptions extends EndpointOptions {
  /** ms (default 3000). */
  connectTimeout?: number;
  /** Reconnect with exponential backoff after an unexpected close (default on). */
  reconnect?: false | { initialDelay?: number; maxDelay?: number };
}

/**
 * One connection. Bytes written in the same event-loop turn are coalesced into one socket write.
 * Scope: per connection; not re-entrant across processes, safe to call from any callback.
 */
export interface Channel {
  readonly id: number;
  /** `host:port` or the socket path of the peer. */
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly isOpen: boolean;
  /** False while the socket's buffer is above its high-water mark; wait for `onDrain`. */
  readonly writable: boolean;
  /** Queues bytes for the next flush. Returns `writable`. Throws if the channel is closed. */
  write(bytes: Uint8Array): boolean;
  /** Closes after flushing what was queued; `error` is passed to `onClose`. */
  close(error?: Error): void;
  /** A slot for the protocol's per-connection state. */
  state: unknown;
}

/** A client channel that reconnects by itself; `connect()` resolves once connected (again). */
export interface ClientChannel extends Channel {
  connect(): Promise<void>;
  /** Stops reconnecting and closes for good. */
  destroy(): void;
}

/** Callbacks from the transport to the protocol; called synchronously from socket events. */
export interface ChannelHandler {
  onOpen?(channel: Channel): void;
  /** A chunk as read from the socket; framing is the protocol's job. */
  onData(channel: Channel, chunk: Buffer): void;
  /** No bytes were read for a heartbeat period; `missed` counts consecutive periods. */
  onIdle?(channel: Channel, missed: number): void;
  onDrain?(channel: Channel): void;
  onClose?(channel: Channel, error?: Error): void;
}

export interface TransportServer {
  /** The bound address: `host:port` or the socket path (port 0 becomes the real port). */
  readonly address: string;
  readonly port: number;
  channels(): Iterable<Channel>;
  /** Stops accepting, closes every channel after flushing. */
  close(): Promise<void>;
}

/**
 * Moves bytes between processes. Scope: one instance per application.
 */
export interface Transport {
  listen(options: ListenOptions, handler: ChannelHandler): Promise<TransportServer>;
  connect(options: ConnectOptions, handler: ChannelHandler): ClientChannel;
}

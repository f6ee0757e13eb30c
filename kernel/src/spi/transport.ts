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

/**
 * Options every endpoint (server or client channel) accepts. The limits below bound what a peer can
 * cost this process; a transport fills each one it does not receive from its own transport-wide
 * options (`extensions.transport.<name>` in plexus.yaml) and then from its defaults. Durations in ms;
 * 0 turns a timeout off, and 0 for `writeMaxQueue` or a connection cap means no limit.
 */
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
  /**
   * Bytes written but not yet taken by the peer (queued plus in the socket buffer) above which
   * `writable` turns false, `write` returns false and the channel **stops reading** that peer until
   * its buffer drained: a peer that sends requests without reading the answers then stops being
   * served instead of being buffered for. Default 1 MiB in the TCP transport.
   */
  writeHighWaterMark?: number;
  /**
   * Bytes waiting for the peer past which the channel is closed at once (the peer is not reading
   * and what is already running keeps answering). Default 16 MiB in the TCP transport: above the
   * high-water mark plus the largest frame a protocol writes (8 MiB), so one legitimate large
   * message never trips it.
   */
  writeMaxQueue?: number;
  /**
   * How long a channel above its write high-water mark may go without its peer taking any byte
   * before it is closed, in ms. Default 10000 in the TCP transport.
   */
  writeStallTimeout?: number;
  /**
   * Once a message started arriving (`onData` returned a result with {@link ReadProgress.PARTIAL}),
   * it must be complete within this many ms or the channel is closed: a peer dribbling a message
   * byte by byte cannot hold a connection and its buffer. Reads that leave a message incomplete do
   * not count as activity for the heartbeat idle timeout. Default 5000 in the TCP transport (an
   * 8 MiB message then needs about 1.7 MB/s). Only protocols whose `onData` reports progress get it.
   */
  frameTimeout?: number;
}

export interface ListenOptions extends EndpointOptions {
  backlog?: number;
  /**
   * TLS servers: an accepted connection must complete its handshake within this many ms or it is
   * closed, so connections that never start one cannot pile up (on clients `connectTimeout` covers
   * the handshake). Default 5000 in the TCP transport.
   */
  handshakeTimeout?: number;
  /**
   * Accepted connections (TLS handshakes in progress included) above which a new connection is
   * closed at once. Default 10000 in the TCP transport; keep it below the process's file
   * descriptor limit (`ulimit -n`).
   */
  maxConnections?: number;
  /**
   * Accepted connections from one remote IP address above which a new one from that address is
   * closed at once; below `maxConnections`, so one address holding its whole share still leaves
   * room for everyone else. Default 512 in the TCP transport.
   */
  maxConnectionsPerRemote?: number;
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
  /**
   * False while the bytes waiting for the peer are above `writeHighWaterMark`; wait for `onDrain`.
   * While false the channel does not read from the peer either.
   */
  readonly writable: boolean;
  /**
   * Queues bytes for the next flush. Returns `writable`. Throws if the channel is closed. Past
   * `writeMaxQueue` the channel closes itself (the bytes are dropped, `onClose` gets the reason).
   */
  write(bytes: Uint8Array): boolean;
  /**
   * Optional zero-copy `write`: reserves the next `length` bytes of what goes out and returns
   * where to put them, `slot.buffer[slot.offset .. slot.offset + length)`, so a protocol encodes a
   * frame in place instead of in a buffer of its own. The caller must fill the slot before it
   * calls this channel again or yields to the event loop (the slot goes out with the next flush).
   * Same accounting, backpressure and errors as `write`; the slot object is reused by the next
   * call. A channel past `writeMaxQueue` closes itself and hands back a slot that goes nowhere.
   */
  reserve?(length: number): WriteSlot;
  /** Closes after flushing what was queued; `error` is passed to `onClose`. */
  close(error?: Error): void;
  /** A slot for the protocol's per-connection state. */
  state: unknown;
}

/** Where {@link Channel.reserve} put the caller's bytes. */
export interface WriteSlot {
  readonly buffer: Buffer;
  readonly offset: number;
}

/** A client channel that reconnects by itself; `connect()` resolves once connected (again). */
export interface ClientChannel extends Channel {
  connect(): Promise<void>;
  /** Stops reconnecting and closes for good. */
  destroy(): void;
}

/**
 * What a protocol's `onData` may return about the message it is reading, so the transport can
 * enforce `frameTimeout` and keep slow dribbles from counting as activity. Flags, combined with `|`.
 * Returning nothing (`undefined`) means "not tracked": every read counts as activity, no deadline.
 */
export const ReadProgress = {
  /** The bytes read so far end on a message boundary. */
  IDLE: 0,
  /** A message has started and is not complete: its deadline runs from the first such read. */
  PARTIAL: 1,
  /** At least one message completed in this chunk: activity, and a new partial one starts afresh. */
  COMPLETE: 2,
} as const;
export type ReadProgress = number;

/** Callbacks from the transport to the protocol; called synchronously from socket events. */
export interface ChannelHandler {
  onOpen?(channel: Channel): void;
  /**
   * A chunk as read from the socket; framing is the protocol's job. Returning {@link ReadProgress}
   * flags opts the channel into the frame deadline (see `frameTimeout`).
   */
  onData(channel: Channel, chunk: Buffer): ReadProgress | void;
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

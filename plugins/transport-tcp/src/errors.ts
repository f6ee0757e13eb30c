import { defineError } from '@plexus/kernel/spi';

/*
 * The transport's error catalogue: every error a user can see from this package comes from here,
 * and the README's table lists them all.
 */

/** Options no socket could use: no port or path, a port out of range, a negative duration. */
export const ERR_TCP_BAD_OPTIONS = defineError(
  'PLEXUS_ERR_TCP_BAD_OPTIONS',
  (what: string) => `invalid transport options: ${what}`,
  'give either `path` (a Unix socket) or `port` (0 picks a free port when listening), and non-negative durations',
);

/** A server could not bind its address. */
export const ERR_TCP_LISTEN = defineError(
  'PLEXUS_ERR_TCP_LISTEN',
  (address: string, cause: string) => `cannot listen on ${address}: ${cause}`,
  'EADDRINUSE: another process holds the port (or a stale Unix socket file is left: remove it); EACCES: pick a port above 1024 or a writable socket path',
);

/** Nobody listens at the address (refused, missing socket file, reset while connecting). */
export const ERR_TCP_CONNECT_REFUSED = defineError(
  'PLEXUS_ERR_TCP_CONNECT_REFUSED',
  (address: string, cause: string) => `connection to ${address} refused (${cause})`,
  'is the provider running and listening on that address? Check host, port or socket path',
);

/** The connect, and with TLS the handshake, outlasted `connectTimeout`. */
export const ERR_TCP_CONNECT_TIMEOUT = defineError(
  'PLEXUS_ERR_TCP_CONNECT_TIMEOUT',
  (address: string, ms: number) => `connecting to ${address} took longer than ${ms} ms`,
  'the provider may be overloaded (full accept backlog) or unreachable; raise `connectTimeout` or check the network path',
);

/** Any other connect failure, such as an untrusted TLS certificate. */
export const ERR_TCP_CONNECT_FAILED = defineError(
  'PLEXUS_ERR_TCP_CONNECT_FAILED',
  (address: string, cause: string) => `cannot connect to ${address}: ${cause}`,
  'check the address; with TLS, check that both sides trust each other\'s certificates (ca, cert, key, servername)',
);

/** A write on a client channel that is connecting or waiting to reconnect. */
export const ERR_TCP_NOT_CONNECTED = defineError(
  'PLEXUS_ERR_TCP_NOT_CONNECTED',
  (address: string) => `not connected to ${address} (connecting or waiting to reconnect)`,
  'await channel.connect() before writing; the channel reconnects by itself after a lost connection',
);

/** A write on a closed channel. */
export const ERR_TCP_CHANNEL_CLOSED = defineError(
  'PLEXUS_ERR_TCP_CHANNEL_CLOSED',
  (address: string) => `channel to ${address} is closed`,
  'the connection was closed or destroyed; open a new channel (clients: transport.connect) to go on',
);

/** Handed to `onClose` after `heartbeatMisses` idle periods in a row. */
export const ERR_TCP_HEARTBEAT_TIMEOUT = defineError(
  'PLEXUS_ERR_TCP_HEARTBEAT_TIMEOUT',
  (address: string, idleMs: number) => `no bytes read from ${address} for ${idleMs} ms; closing the connection`,
  'the peer is gone or stalled; raise `heartbeat`/`heartbeatMisses` if the peer is only slow, or set heartbeat: 0 to disable',
);

/** Handed to `onClose` for a socket error; `cause` holds Node's error. */
export const ERR_TCP_SOCKET = defineError(
  'PLEXUS_ERR_TCP_SOCKET',
  (address: string, cause: string) => `connection to ${address} failed: ${cause}`,
  'the peer reset the connection or the network failed; calls in flight fail with NETWORK and may be retried',
);

/** Handed to `onClose` when a handler callback threw. */
export const ERR_TCP_HANDLER = defineError(
  'PLEXUS_ERR_TCP_HANDLER',
  (address: string, cause: string) => `the channel handler threw on data from ${address}: ${cause}`,
  'a bug in the protocol above the transport; the connection was closed to keep the process alive',
);

/** A TLS key, certificate or CA could not be loaded. */
export const ERR_TCP_TLS_CONFIG = defineError(
  'PLEXUS_ERR_TCP_TLS_CONFIG',
  (what: string, cause: string) => `cannot load TLS ${what}: ${cause}`,
  'key, cert and ca take PEM text, a Buffer or a readable file path',
);

/** `connect` or `write` on a destroyed client channel. */
export const ERR_TCP_DESTROYED = defineError(
  'PLEXUS_ERR_TCP_DESTROYED',
  (address: string) => `client channel to ${address} was destroyed`,
  'a destroyed channel never reconnects; create a new one with transport.connect()',
);

/** Handed to `onClose` when more than `writeMaxQueue` bytes waited for a peer that does not read. */
export const ERR_TCP_WRITE_OVERFLOW = defineError(
  'PLEXUS_ERR_TCP_WRITE_OVERFLOW',
  (address: string, queued: number, max: number) =>
    `${queued} bytes are waiting for ${address}, over writeMaxQueue (${max}); closing the connection`,
  'the peer does not read what it asked for (or far slower than it asks); if it is a legitimate client with large answers, raise `writeMaxQueue`',
);

/** Handed to `onClose` when a peer took no byte for `writeStallTimeout` while over the high-water mark. */
export const ERR_TCP_WRITE_STALLED = defineError(
  'PLEXUS_ERR_TCP_WRITE_STALLED',
  (address: string, queued: number, ms: number) =>
    `${address} took none of the ${queued} bytes waiting for it for ${ms} ms; closing the connection`,
  'the peer stopped reading (hung, or not reading on purpose); raise `writeStallTimeout` for peers on very slow links, 0 turns the check off',
);

/** Handed to `onClose` when a message that started arriving was not complete within `frameTimeout`. */
export const ERR_TCP_FRAME_TIMEOUT = defineError(
  'PLEXUS_ERR_TCP_FRAME_TIMEOUT',
  (address: string, ms: number) => `a message from ${address} started and was not complete within ${ms} ms; closing the connection`,
  'the peer sends too slowly (a dribbling client, or a very slow link for a large message); raise `frameTimeout` for slow links, 0 turns it off',
);

/** A TLS connection that did not complete its handshake within `handshakeTimeout` (logged; no channel exists yet). */
export const ERR_TCP_HANDSHAKE_TIMEOUT = defineError(
  'PLEXUS_ERR_TCP_HANDSHAKE_TIMEOUT',
  (address: string, ms: number) => `TLS connection from ${address} did not complete its handshake within ${ms} ms; closed`,
  'a client that connected without speaking TLS (or a plain-TCP client on a TLS port), or one on a very slow link: raise `handshakeTimeout`',
);

/** New connections refused over `maxConnections` or `maxConnectionsPerRemote` (logged, at most once per interval). */
export const ERR_TCP_TOO_MANY_CONNECTIONS = defineError(
  'PLEXUS_ERR_TCP_TOO_MANY_CONNECTIONS',
  (address: string, detail: string) => `${address} refused a new connection: ${detail}`,
  'one address or many hold too many connections (a flood, or consumers with a large `connections` pool); raise `maxConnections`/`maxConnectionsPerRemote` if they are legitimate',
);

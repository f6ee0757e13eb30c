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

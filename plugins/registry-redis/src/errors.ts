import { defineError } from '@plexus/kernel/spi';

/*
 * The Redis registry's error catalogue: every error a user can see from this package comes from
 * here, and the README's table lists them all. The registry manager retries register/subscribe
 * that fail with any of them except BAD_OPTIONS, ENTRY_TOO_LARGE and CLOSED, which no retry fixes.
 */

/** Options that no connection could use: a missing or malformed address, a value out of range. */
export const ERR_REDIS_BAD_OPTIONS = defineError(
  'PLEXUS_ERR_REDIS_BAD_OPTIONS',
  (what: string) => `invalid redis registry options: ${what}`,
  'give `address: host:port` of one Redis server (redis://host:port in the URL form) and the documented option ranges; Sentinel and Cluster are not supported',
);

/** No connection to the server within `requestTimeout` (refused, down, or still reconnecting). */
export const ERR_REDIS_UNREACHABLE = defineError(
  'PLEXUS_ERR_REDIS_UNREACHABLE',
  (address: string, what: string, ms: number, cause: string) =>
    `redis registry at ${address}: cannot ${what}, no connection within ${ms} ms${cause ? ` (last error: ${cause})` : ''}`,
  'is redis-server running and reachable on that address? The client keeps reconnecting (every 2 s at most) and the registry manager retries the operation',
);

/** A command was sent but its reply did not come within `requestTimeout`. */
export const ERR_REDIS_TIMEOUT = defineError(
  'PLEXUS_ERR_REDIS_TIMEOUT',
  (address: string, what: string, ms: number) => `redis registry at ${address}: ${what} got no reply within ${ms} ms`,
  'the server is overloaded, blocked (a slow script or KEYS) or the network drops packets; raise `requestTimeout` if it is only slow',
);

/** The server refused our credentials, or needs some that were not given. */
export const ERR_REDIS_AUTH = defineError(
  'PLEXUS_ERR_REDIS_AUTH',
  (address: string, cause: string) => `redis registry at ${address}: authentication failed (${cause})`,
  'set `password` to the requirepass of the server (or the ACL password of its default user); to run without one, remove requirepass from the server',
);

/** The server answered a command with an error (a read-only replica, out of memory, scripting disabled...). */
export const ERR_REDIS_COMMAND = defineError(
  'PLEXUS_ERR_REDIS_COMMAND',
  (address: string, what: string, cause: string) => `redis registry at ${address}: ${what} failed: ${cause}`,
  'READONLY: point `address` at the primary, not a replica; OOM: free memory or raise maxmemory; NOSCRIPT/ERR unknown command: the server must allow EVAL and SCAN ... TYPE (Redis 6 or later)',
);

/** A URL whose text is longer than readers accept (`maxEntryBytes`): it would be skipped by every subscriber. */
export const ERR_REDIS_ENTRY_TOO_LARGE = defineError(
  'PLEXUS_ERR_REDIS_ENTRY_TOO_LARGE',
  (url: string, bytes: number, limit: number) => `redis registry: cannot register ${url.slice(0, 120)}…: ${bytes} bytes, more than maxEntryBytes (${limit})`,
  'raise `maxEntryBytes` on every application sharing this registry, or shorten the URL (fewer parameters, a shorter `methods` list)',
);

/** register/subscribe/lookup on a registry after `close()`. */
export const ERR_REDIS_CLOSED = defineError(
  'PLEXUS_ERR_REDIS_CLOSED',
  (address: string, what: string) => `redis registry at ${address}: cannot ${what} after close()`,
  'create a new registry (or application) instead of reusing a closed one',
);

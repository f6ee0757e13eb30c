import { defineError } from '@plexus/kernel/spi';

/*
 * The ZooKeeper registry's error catalogue: every error a user can see from this package comes
 * from here, and the README's table lists them all. UNAVAILABLE and TIMEOUT are the ones the
 * kernel's registry manager retries; the others need a change of config or of the server's ACLs.
 */

/** Options no client could use: no address, a bad host:port, a non-positive duration, a bad root. */
export const ERR_ZOOKEEPER_BAD_OPTIONS = defineError(
  'PLEXUS_ERR_ZOOKEEPER_BAD_OPTIONS',
  (what: string) => `invalid zookeeper registry options: ${what}`,
  'give address as "host:port" or a comma list of them (zookeeper://127.0.0.1:2181), durations as positive milliseconds, and root as a path such as "plexus"',
);

/**
 * No connection within `connectTimeout` (server down, wrong address, network), or the connection
 * or session was lost while a request was out.
 */
export const ERR_ZOOKEEPER_UNAVAILABLE = defineError(
  'PLEXUS_ERR_ZOOKEEPER_UNAVAILABLE',
  (address: string, what: string, why: string) => `cannot ${what}: ZooKeeper at ${address} is unreachable (${why})`,
  'check that ZooKeeper runs and that the address is right; the registry manager retries, and the client keeps reconnecting by itself',
);

/** A request sent on a live connection got no answer within `requestTimeout`. */
export const ERR_ZOOKEEPER_TIMEOUT = defineError(
  'PLEXUS_ERR_ZOOKEEPER_TIMEOUT',
  (address: string, what: string, ms: number) => `ZooKeeper at ${address} did not answer "${what}" within ${ms} ms; the connection is being reset`,
  'the server may be overloaded, paused or cut off; the registry manager retries. Raise requestTimeout if the server is only slow',
);

/** The server refused a request (no permission, a quota, a path it does not accept). */
export const ERR_ZOOKEEPER_REQUEST = defineError(
  'PLEXUS_ERR_ZOOKEEPER_REQUEST',
  (what: string, path: string, cause: string) => `ZooKeeper refused to ${what} ${path}: ${cause}`,
  'NO_AUTH / INVALID_ACL: the root node has ACLs this client does not satisfy, use another root or ask the ZooKeeper operator; other codes are in the ZooKeeper docs',
);

/** A URL whose node name would be longer than the registry reads back (`maxEntryLength`). */
export const ERR_ZOOKEEPER_ENTRY_TOO_LONG = defineError(
  'PLEXUS_ERR_ZOOKEEPER_ENTRY_TOO_LONG',
  (path: string, length: number, max: number) => `the registry entry for ${path} would be ${length} characters long, over maxEntryLength (${max})`,
  'subscribers skip longer entries, so it is refused here: drop large parameters from the URL (e.g. a long methods list) or raise maxEntryLength on every application',
);

/** `register` or `subscribe` after `close()`. */
export const ERR_ZOOKEEPER_CLOSED = defineError(
  'PLEXUS_ERR_ZOOKEEPER_CLOSED',
  (what: string) => `cannot ${what}: this zookeeper registry was closed`,
  'a closed registry does not reopen; create a new one (or a new application)',
);

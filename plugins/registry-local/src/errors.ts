import { defineError } from '@plexus/kernel/spi';

/*
 * The local registry's error catalogue: every error a user can see from this package comes from
 * here, and the README's table lists them all.
 */

/** Options that cannot work: a lease shorter than its heartbeat, two different folders, a bad root. */
export const ERR_LOCAL_REGISTRY_BAD_OPTIONS = defineError(
  'PLEXUS_ERR_LOCAL_REGISTRY_BAD_OPTIONS',
  (what: string) => `invalid local registry options: ${what}`,
  'see the options table of @plexus/registry-local: ttl must exceed heartbeat, `dir` and `address` must name the same folder, `root` is a relative path without ".." segments',
);

/** A file system operation on the registry folder failed (permissions, disk full, read-only mount). */
export const ERR_LOCAL_REGISTRY_IO = defineError(
  'PLEXUS_ERR_LOCAL_REGISTRY_IO',
  (what: string, path: string, cause: string) => `local registry: cannot ${what} ${path}: ${cause}`,
  'every process sharing the registry needs read and write access to its folder (`dir`, default <os tmpdir>/plexus-registry) and free space; fix the folder or point `dir` at another one',
);

/** A file system operation did not finish within `timeout` (a hung network mount, a saturated thread pool). */
export const ERR_LOCAL_REGISTRY_TIMEOUT = defineError(
  'PLEXUS_ERR_LOCAL_REGISTRY_TIMEOUT',
  (what: string, ms: number) => `local registry: ${what} did not finish within ${ms} ms`,
  'the registry folder is slow or stuck (a network mount?) or the process is overloaded; keep the folder on a local disk or raise `timeout`. The registry manager retries the operation',
);

/** An operation on a registry instance after its close(). */
export const ERR_LOCAL_REGISTRY_CLOSED = defineError(
  'PLEXUS_ERR_LOCAL_REGISTRY_CLOSED',
  (what: string) => `local registry: cannot ${what} after close()`,
  'create a new registry (or application) instead of reusing a closed one',
);

/** An entry that would not fit in a file readers accept, or an interface name too long for a folder name. */
export const ERR_LOCAL_REGISTRY_TOO_LARGE = defineError(
  'PLEXUS_ERR_LOCAL_REGISTRY_TOO_LARGE',
  (what: string, size: number, limit: number) => `local registry: ${what} takes ${size} bytes, over the limit of ${limit}`,
  'shorten the URL (fewer or shorter parameters, a shorter interface name) or raise `maxEntrySize` in every process sharing the folder',
);

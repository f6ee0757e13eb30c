import { defineError, PlexusError } from '@plexus/kernel/spi';

/** The framework errors of the etcd registry; each says what to do. */
export const EtcdErrors = {
  OPTION: defineError(
    'PLEXUS_ERR_ETCD_OPTION',
    (name: string, problem: string) => `etcd registry: option "${name}" ${problem}`,
    'Fix the registry option in the config (durations are milliseconds; see the @plexus/registry-etcd README for each option and its default).',
  ),
  ADDRESS: defineError(
    'PLEXUS_ERR_ETCD_ADDRESS',
    (address: string, problem: string) => `etcd registry: address "${address}" ${problem}`,
    'Write the address as host:port, or a comma list host:port,host:port (http://host:port is accepted; TLS is not supported by this plugin).',
  ),
  UNREACHABLE: defineError(
    'PLEXUS_ERR_ETCD_UNREACHABLE',
    (what: string, address: string, cause: string) => `etcd registry: ${what} failed, etcd at ${address} is unreachable: ${cause}`,
    'Check that etcd runs at that address and this host can reach it; the registry manager retries failed operations, and consumers keep their last provider lists meanwhile.',
  ),
  TIMEOUT: defineError(
    'PLEXUS_ERR_ETCD_TIMEOUT',
    (what: string, address: string, ms: number) => `etcd registry: ${what} got no answer from etcd at ${address} within ${ms} ms`,
    'Check the health of the etcd cluster (a leader election or an overloaded server); raise the registry option requestTimeout if the cluster is slow but healthy.',
  ),
  REQUEST: defineError(
    'PLEXUS_ERR_ETCD_REQUEST',
    (what: string, address: string, cause: string) => `etcd registry: ${what} was refused by etcd at ${address}: ${cause}`,
    'Read the cause: a permission error needs etcd auth to allow this client on the root prefix; a size error means an entry or a listing exceeds etcd or gRPC limits.',
  ),
  ENTRY_TOO_LARGE: defineError(
    'PLEXUS_ERR_ETCD_ENTRY_TOO_LARGE',
    (bytes: number, max: number) => `etcd registry: the entry key is ${bytes} bytes, over maxKeyBytes ${max}; readers would skip it`,
    'Shorten the URL (fewer or shorter parameters, e.g. a long methods list) or raise maxKeyBytes on every application that reads this registry.',
  ),
  LEASE_LOST: defineError(
    'PLEXUS_ERR_ETCD_LEASE_LOST',
    () => 'etcd registry: the lease was lost while registering',
    'Nothing to do by hand: a new lease is being granted and the registry manager registers again; if this repeats, check that etcd is stable and ttl is not below the time etcd needs to answer.',
  ),
  CLOSED: defineError(
    'PLEXUS_ERR_ETCD_CLOSED',
    (what: string) => `etcd registry: cannot ${what} after close()`,
    'Create a new registry (or application) instead of reusing a closed one.',
  ),
};

/** A coded error that keeps the driver's error as its cause. */
export function withCause(error: PlexusError, cause: unknown): PlexusError {
  Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true, enumerable: false });
  return error;
}

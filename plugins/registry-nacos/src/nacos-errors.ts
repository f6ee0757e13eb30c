import { defineError, PlexusError } from '@plexus/kernel/spi';

/**
 * The framework errors of the Nacos registry; each says what to do. The `BAD_*` and
 * `RESPONSE_TOO_LARGE` codes are mostly seen in warnings: what a server answers is skipped, not
 * thrown at the application.
 */
export const NacosErrors = {
  OPTION: defineError(
    'PLEXUS_ERR_NACOS_OPTION',
    (name: string, problem: string) => `nacos registry: option "${name}" ${problem}`,
    'Fix the registry option in the config (durations are milliseconds; see the @plexus/registry-nacos README for each option and its default).',
  ),
  ADDRESS: defineError(
    'PLEXUS_ERR_NACOS_ADDRESS',
    (address: string, problem: string) => `nacos registry: address "${address}" ${problem}`,
    'Write the address as host:port or a comma list host:port,host:port (http:// or https:// in front is accepted; the context path is always /nacos).',
  ),
  UNREACHABLE: defineError(
    'PLEXUS_ERR_NACOS_UNREACHABLE',
    (what: string, causes: string) => `nacos registry: ${what} failed, no Nacos server answered: ${causes}`,
    'Check that Nacos runs at the configured address and this host can reach it (raise requestTimeout if it is slow but healthy); the registry manager retries failed operations, and consumers keep their last provider lists meanwhile.',
  ),
  REQUEST: defineError(
    'PLEXUS_ERR_NACOS_REQUEST',
    (what: string, server: string, status: number, body: string) => `nacos registry: ${what} was refused by ${server} (HTTP ${status}): ${body}`,
    'Read the answer: a 400 names the parameter Nacos rejected (a name with characters Nacos refuses), a 403 a missing permission for this user on the namespace, a 500 a server-side problem to look up in the Nacos logs.',
  ),
  AUTH: defineError(
    'PLEXUS_ERR_NACOS_AUTH',
    (server: string, detail: string) => `nacos registry: login to ${server} failed: ${detail}`,
    'Check the registry options username and password (and that the user may read and write the namespace); without auth enabled on the server, leave both unset.',
  ),
  RESPONSE_TOO_LARGE: defineError(
    'PLEXUS_ERR_NACOS_RESPONSE_TOO_LARGE',
    (what: string, server: string, max: number) => `nacos registry: the answer of ${server} to ${what} is over maxResponseBytes (${max} bytes); it was dropped unread`,
    'Raise maxResponseBytes if this many entries are real (thousands of providers of one service), otherwise find who writes so much under this namespace and group.',
  ),
  BAD_RESPONSE: defineError(
    'PLEXUS_ERR_NACOS_BAD_RESPONSE',
    (what: string, server: string, problem: string) => `nacos registry: the answer of ${server} to ${what} ${problem}; it was ignored`,
    'Check that the address points at a Nacos 2.x server (its open API v1 under /nacos) and not at a proxy or another service answering in its place.',
  ),
  BAD_ENTRY: defineError(
    'PLEXUS_ERR_NACOS_BAD_ENTRY',
    (entry: string, problem: string) => `nacos registry: skipped the entry ${entry}: ${problem}`,
    'Nothing breaks: the entry is left out of the lists. It was written by something other than Plexus (a Dubbo or Spring Cloud application in the same namespace and group) or by hand; give Plexus its own namespace or group, or remove the entry.',
  ),
  NAME: defineError(
    'PLEXUS_ERR_NACOS_NAME',
    (what: string, value: string, problem: string) => `nacos registry: cannot store ${what} "${value}": ${problem}`,
    'Nacos service names are {category}:{interface}:{version}:{group}, so the interface, version and group cannot contain ":"; rule data ids allow letters, digits and . : _ - only.',
  ),
  CONFLICT: defineError(
    'PLEXUS_ERR_NACOS_CONFLICT',
    (dataId: string, attempts: number) => `nacos registry: the rules in ${dataId} kept changing under this write (${attempts} attempts)`,
    'Another writer is updating the same rules at the same time; retry the command. If it persists, check that nothing rewrites this config in a loop.',
  ),
  CLOSED: defineError(
    'PLEXUS_ERR_NACOS_CLOSED',
    (what: string) => `nacos registry: cannot ${what} after close()`,
    'Create a new registry (or application) instead of reusing a closed one.',
  ),
};

/** A coded error that keeps what caused it. */
export function withCause(error: PlexusError, cause: unknown): PlexusError {
  Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true, enumerable: false });
  return error;
}

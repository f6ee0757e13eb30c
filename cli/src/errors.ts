import { defineError } from '@plexus/kernel/spi';

/**
 * The `plexus` command's own errors. Each is printed as one line, `<code>: <message> (<hint>)`,
 * and the command exits 1. Errors raised by the kernel or a plugin keep their own code.
 */
export const CliErrors = {
  BAD_ARGS_JSON: defineError(
    'PLEXUS_ERR_CLI_BAD_ARGS_JSON',
    (detail: string) => `the arguments are not valid JSON: ${detail}`,
    'give the arguments as one JSON array in single quotes, e.g. \'[40, 2]\' (a single non-array value is passed as the only argument)',
  ),
  BAD_OPTION: defineError(
    'PLEXUS_ERR_CLI_BAD_OPTION',
    (option: string, detail: string) => `${option} ${detail}`,
    'see `plexus <command> --help` for the accepted values',
  ),
  BAD_TARGET: defineError(
    'PLEXUS_ERR_CLI_BAD_TARGET',
    (detail: string) => detail,
    'give one of --url plexus://host:port, --registry <type>://<address> (local:///absolute/dir for the local registry) or --config file',
  ),
  CALL_FAILED: defineError(
    'PLEXUS_ERR_CLI_CALL_FAILED',
    (what: string, code: string, detail: string) => `${what} failed with ${code}: ${detail}`,
    'check the interface, method, version and group with `plexus ls`, and that the provider is running',
  ),
  TIMEOUT: defineError(
    'PLEXUS_ERR_CLI_TIMEOUT',
    (what: string, ms: number) => `${what} did not finish within ${ms} ms`,
    'check that the provider or registry is reachable, or raise --timeout',
  ),
  REGISTRY: defineError(
    'PLEXUS_ERR_CLI_REGISTRY',
    (address: string, detail: string) => `registry ${address}: ${detail}`,
    'check that the registry is running and reachable, and its address (--registry <type>://<address>)',
  ),
  RULE_FILE: defineError(
    'PLEXUS_ERR_CLI_RULE_FILE',
    (file: string, detail: string) => `rule file ${file}: ${detail}`,
    'a rule file holds one rule or a list of rules in YAML or JSON: routes have `router` and `rule`, overrides have `weight`, `disabled`, `timeout`, `retries` or `methods` (docs/guide/dynamic-rules.md)',
  ),
  NOTHING_TO_RUN: defineError(
    'PLEXUS_ERR_CLI_NOTHING_TO_RUN',
    (file: string) => `${file} declares no services and no references`,
    'add a `services:` entry (interface and implementation) to the config file',
  ),
} as const;

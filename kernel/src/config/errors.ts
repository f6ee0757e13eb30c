import { defineError, type PlexusError } from '../errors/plexus-error';

/**
 * The configuration errors. The lead's catalogue lists them with the rest; each says what to do.
 */
export const ConfigErrors = {
  NOT_FOUND: defineError(
    'PLEXUS_ERR_CONFIG_NOT_FOUND',
    (where: string, detail?: string) => `No config file at ${where}${detail ? ` (${detail})` : ''}`,
    'Create it (docs/reference/config.md has an example plexus.yaml), or give the right path, e.g. `plexus start path/to/plexus.yaml`.',
  ),
  READ: defineError(
    'PLEXUS_ERR_CONFIG_READ',
    (file: string, detail: string) => `Cannot read config file ${file}: ${detail}`,
    'Give a readable file ending in .yaml, .yml or .json.',
  ),
  PARSE: defineError(
    'PLEXUS_ERR_CONFIG_PARSE',
    (problems: readonly string[]) => `Cannot parse the config file:\n  ${problems.join('\n  ')}`,
    'Fix the syntax at the line shown: YAML indents with spaces (not tabs) and needs a space after "key:"; JSON needs double-quoted keys and no trailing commas.',
  ),
  INVALID: defineError(
    'PLEXUS_ERR_CONFIG_INVALID',
    (problems: readonly string[]) =>
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`,
    'Fix each key listed above; docs/reference/config.md lists every key, where it may stand, its type and its PLEXUS_* variable.',
  ),
  UNCLAIMED_KEY: defineError(
    'PLEXUS_ERR_CONFIG_UNCLAIMED_KEY',
    (problems: readonly string[]) =>
      `Config keys that no loaded plugin reads (${problems.length}):\n  ${problems.join('\n  ')}`,
    'Install the plugin named for each key (and list it under `plugins:` if its name is not conventional), or remove the key: nothing would act on it.',
  ),
  KEY_NO_EFFECT: defineError(
    'PLEXUS_ERR_CONFIG_KEY_NO_EFFECT',
    (problems: readonly string[]) => `Config keys that would do nothing where they stand (${problems.length}):\n  ${problems.join('\n  ')}`,
    'Move each key to the side whose filter reads it (a reference or `consumer:` for consumer filters, a service or `provider:` for provider filters), or stop removing that filter in `filter:`.',
  ),
} as const;

/** A configuration error that carries its problems, one line each (file:line, key path, what is wrong). */
export type ConfigProblemsError = PlexusError & { readonly problems: readonly string[] };

/** Builds PLEXUS_ERR_CONFIG_INVALID or _PARSE with the problem lines attached as `problems`. */
export function configProblems(kind: 'INVALID' | 'PARSE', problems: readonly string[]): ConfigProblemsError {
  const err = ConfigErrors[kind](problems);
  Object.defineProperty(err, 'problems', { value: Object.freeze([...problems]), enumerable: true });
  return err as ConfigProblemsError;
}

/**
 * The configuration subsystem: `plexus.yaml`/`.json` files, `PLEXUS_*` overrides and code, merged,
 * validated and normalised into one {@link PlexusConfig} that remembers where each value came from.
 */
export * from './types';
export { loadConfigFile, CONFIG_FILE_NAMES, type LoadedFile, type ConfigPosition } from './load-file';
export { resolveConfig, type ResolveOptions } from './resolve';
export { explainConfig } from './explain';
export { readEnvOverrides, type EnvAssignment, type EnvOverrides, type EnvProblem } from './env';
export { configSchema, CALL_KEYS, PLUGIN_KEYS, PLUGIN_KEY_PATTERN, type ConfigSchemaNode } from './schema';
export { CONFIG_DEFAULTS } from './defaults';
export { ConfigErrors, type ConfigProblemsError } from './errors';
export { suggest, levenshtein } from '../errors/suggest';
export { formatPath } from './key-path';

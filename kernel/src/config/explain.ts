import { formatPath, isPlainObject, leavesOf } from './key-path';
import type { PlexusConfig } from './types';

/** Keys whose values `explainConfig` never prints. */
const SECRET = /token|password|secret|credential|passphrase|^key$/i;

/**
 * Why each value is what it is, one line per leaf in config order:
 * `consumer.timeout = 1000 (default)`, `protocols[0].port = 20881 (file plexus.yaml:4:3)`,
 * `registry.address = "127.0.0.1:2181" (env PLEXUS_REGISTRY_ADDRESS)`. Secrets (tokens,
 * passwords) are masked. For `plexus config --explain`.
 */
export function explainConfig(config: PlexusConfig): string[] {
  const lines: string[] = [];
  const origins = config.origins ?? {};
  for (const key of ['application', 'logLevel', 'plugins', 'registry', 'registries', 'protocols', 'provider', 'consumer', 'services', 'references', 'extensions'] as const) {
    const value = config[key];
    if (value === undefined) continue;
    for (const leaf of leavesOf(value, [key])) {
      const at = formatPath(leaf);
      const source = config.sources[at] ?? 'runtime';
      const where = origins[at];
      const last = leaf[leaf.length - 1];
      const shown = typeof last === 'string' && SECRET.test(last) && valueAt(config, leaf) !== true ? '"***"' : show(valueAt(config, leaf));
      lines.push(`${at} = ${shown} (${source}${where ? ` ${where}` : ''})`);
    }
  }
  return lines;
}

function valueAt(config: PlexusConfig, leaf: readonly (string | number)[]): unknown {
  let node: unknown = config;
  for (const seg of leaf) node = (node as Record<string | number, unknown> | undefined)?.[seg];
  return node;
}

function show(value: unknown): string {
  if (typeof value === 'function') return `[${value.name ? `function ${value.name}` : 'function'}]`;
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !isPlainObject(value)) {
    return `[object ${value.constructor?.name ?? 'Object'}]`;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { explainConfig, resolveConfig, type PlexusConfig } from '@plexus/kernel';
import { toJson } from '../format';
import type { Io } from '../io';

export interface ConfigOptions {
  explain?: boolean;
}

/** The config files `plexus config` and `plexus start` look for in the working folder, in order. */
export const DEFAULT_CONFIG_FILES = ['plexus.yaml', 'plexus.yml', 'plexus.json'];

export function configCommand(io: Io): Command {
  return new Command('config')
    .description('print the effective config (defaults < file < PLEXUS_* variables); --explain says where each value came from')
    .argument('[file]', 'the config file (default: plexus.yaml, .yml or .json in this folder, else the defaults alone)')
    .option('--explain', 'one line per value: key = value (default | file <file>:<line>:<column> | env PLEXUS_<VAR> | code)')
    .addHelpText(
      'after',
      `
Secrets (token, password, ...) are printed as "***".

Examples:
  $ plexus config plexus.yaml --explain
  $ PLEXUS_CONSUMER_TIMEOUT=250 plexus config plexus.yaml --explain | grep timeout
  $ plexus config plexus.yaml > effective.json`,
    )
    .action((file: string | undefined, options: ConfigOptions) => {
      io.out(runConfig(file, options, process.env));
    });
}

/** The effective config of `file` under `env`, explained or as JSON. */
export function runConfig(file: string | undefined, options: ConfigOptions, env: NodeJS.ProcessEnv): string {
  const chosen = file ?? DEFAULT_CONFIG_FILES.find((f) => fs.existsSync(path.resolve(f)));
  const config = resolveConfig({ ...(chosen !== undefined ? { file: chosen } : {}), env });
  if (options.explain) {
    const header = config.file ? `# ${config.file}` : '# no config file: defaults and PLEXUS_* variables only';
    return [header, ...explainConfig(config)].join('\n');
  }
  return toJson(effective(config), 2);
}

/** The config without the bookkeeping the kernel keeps beside it. */
function effective(config: PlexusConfig): Record<string, unknown> {
  const { sources: _s, origins: _o, pluginKeys: _p, baseDir: _b, ...rest } = config;
  return rest;
}

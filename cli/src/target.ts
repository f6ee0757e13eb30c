import * as fs from 'node:fs';
import * as path from 'node:path';
import { Plexus, type PlexusConfigInput, type RegistryConfig } from '@plexus/kernel';
import { checkUrlOption, parseRegistryOption } from './args';
import { CliErrors } from './errors';

/** Where a command finds services: a provider URL, a registry, or a config file. */
export interface TargetOptions {
  url?: string;
  registry?: string;
  config?: string;
}

/** The application name the command uses when no config file names one. */
export const CLI_APPLICATION = 'plexus-cli';

/**
 * An application (never started) for a command that calls or lists: with `--url`, no registry at
 * all; with `--registry`, that registry without a disk snapshot (a command must show what the
 * registry says now, not what a past run saw); with `--config`, whatever the file says; with none
 * of them, the embedded local registry in its default folder, as a provider started with defaults uses.
 */
export async function openApp(target: TargetOptions, allowUrl = true): Promise<Plexus> {
  const given = (['url', 'registry', 'config'] as const).filter((k) => target[k] !== undefined);
  if (given.length > 1) throw CliErrors.BAD_TARGET(`--${given.join(' and --')} were both given; give one of them`);
  // A command ends in one line (its answer or its coded error); the app's info lines and the
  // registry clients' retry warnings would bury it. PLEXUS_LOG_LEVEL=warn shows them.
  const quiet: PlexusConfigInput = process.env.PLEXUS_LOG_LEVEL === undefined ? { logLevel: 'error' } : {};
  const base: PlexusConfigInput = { ...quiet, application: { name: CLI_APPLICATION, handleSignals: false, handleErrors: false } };
  if (target.url !== undefined) {
    if (!allowUrl) throw CliErrors.BAD_TARGET('--url cannot list or change anything: this command reads a registry');
    checkUrlOption(target.url);
    return Plexus.create({ ...base, registry: { type: 'none' } });
  }
  if (target.registry !== undefined) {
    return Plexus.create({ ...base, registry: { ...parseRegistryOption(target.registry), snapshot: false } as RegistryConfig });
  }
  if (target.config !== undefined) {
    const file = path.resolve(target.config);
    if (!fs.existsSync(file)) throw CliErrors.BAD_TARGET(`--config ${target.config}: no such file`);
    return Plexus.fromConfig(file, { ...quiet, application: { handleSignals: false, handleErrors: false } });
  }
  return Plexus.create({ ...base, registry: { type: 'local', snapshot: false } });
}

/** Settles `work` or rejects with PLEXUS_ERR_CLI_TIMEOUT after `ms`; the timer never holds the process. */
export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(CliErrors.TIMEOUT(what, ms)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Stops `app` (which unregisters the command's consumer entry) but gives up after `ms`: the answer
 * is printed by then, and a registry that is down would otherwise hold the command for its own
 * retry timeouts. An entry left behind goes with its session or lease.
 */
export async function closeApp(app: Plexus, ms = 1000): Promise<void> {
  await within(app.stop(), ms, 'stopping').catch(() => undefined);
}

/** What `call` and `bench` say about the service they call. */
export interface ServiceOptions extends TargetOptions {
  version?: string;
  group?: string;
  serializer?: string;
  timeout: number;
}

/**
 * The generic reference a command calls through: the options given, each call bounded by
 * `--timeout`, never retried (a person, or a load run, wants the answer of the provider asked).
 */
export function genericOf(app: Plexus, iface: string, options: ServiceOptions) {
  return app.generic(iface, {
    ...(options.url !== undefined ? { url: options.url } : {}),
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.group !== undefined ? { group: options.group } : {}),
    ...(options.serializer !== undefined ? { serializer: options.serializer } : {}),
    timeout: options.timeout,
    retries: 0,
    check: false,
  });
}

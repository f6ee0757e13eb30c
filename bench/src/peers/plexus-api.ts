/**
 * The slice of the Plexus application API (DESIGN §6) the plexus peer uses, loaded at run time.
 * Typed here rather than imported so the rest of the bench builds and runs while the kernel's
 * app API is still being written; when it lands, switch to
 * `import { Plexus } from '@plexus/kernel'` and delete this file.
 */

/** A Plexus application as the bench drives it. */
export interface PlexusApp {
  provide(service: { interface: string; version?: string }, implementation: object): unknown;
  refer<T>(reference: { interface: string; version?: string; url?: string; timeout?: number; [key: string]: unknown }): T;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
}

/** The `Plexus` entry point. */
export interface PlexusStatic {
  create(config: Record<string, unknown>): PlexusApp | Promise<PlexusApp>;
}

/** The bench service's contract. */
export interface BenchEcho {
  echo(value: unknown): Promise<unknown>;
}

/** Interface name and version both plexus peer processes use. */
export const ECHO_SERVICE = { interface: 'bench.Echo', version: '1.0.0' } as const;

/** Loads `Plexus` from `@plexus/kernel`, with a clear error while the kernel lacks it. */
export function loadPlexus(): PlexusStatic {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const kernel = require('@plexus/kernel') as { Plexus?: PlexusStatic };
  if (kernel.Plexus === undefined || typeof kernel.Plexus.create !== 'function') {
    throw new Error('@plexus/kernel does not export Plexus.create yet (build the kernel: npm run build)');
  }
  return kernel.Plexus;
}

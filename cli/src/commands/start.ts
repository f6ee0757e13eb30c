import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { Plexus } from '@plexus/kernel';
import { CliErrors } from '../errors';
import type { Io } from '../io';
import { DEFAULT_CONFIG_FILES } from './config';

/** Added to the app's own `shutdownTimeout` before a stop that hangs is cut short with exit 1, ms. */
const STOP_MARGIN = 5000;

export function startCommand(io: Io): Command {
  return new Command('start')
    .description('run the services (and references) of a config file until SIGTERM or SIGINT, then stop gracefully')
    .argument('[config]', 'the config file (default: plexus.yaml, .yml or .json in this folder)')
    .addHelpText(
      'after',
      `
It prints one line per exported service ("serving <service> at <url>") and then "started".
The first SIGTERM or SIGINT stops gracefully (unregister, finish in-flight calls within
provider.shutdownTimeout) and exits 0; a second one while stopping changes nothing.

Examples:
  $ plexus start
  $ plexus start examples/hello/plexus.yaml
  $ PLEXUS_PROTOCOLS_0_PORT=20990 plexus start plexus.yaml`,
    )
    .action(async (file: string | undefined) => {
      await runStart(file, io);
    });
}

/** Starts the app of `file` and resolves once a signal stopped it. */
export async function runStart(file: string | undefined, io: Io): Promise<void> {
  const chosen = file ?? DEFAULT_CONFIG_FILES.find((f) => fs.existsSync(path.resolve(f))) ?? 'plexus.yaml';
  // Signals are handled here, not by the kernel, so an app with references only stops the same way.
  const app = await Plexus.fromConfig(chosen, { application: { handleSignals: false } });
  if (app.config.services.length === 0 && Object.keys(app.config.references).length === 0) throw CliErrors.NOTHING_TO_RUN(chosen);
  // A consumer-only app holds no server open; this keeps the process up until a signal.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let signals = 0;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  let stopError: unknown;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      io.err(`${signal} received again: already stopping gracefully`);
      return;
    }
    io.err(`${signal} received: stopping gracefully`);
    const limit = Number(app.config.provider.shutdownTimeout ?? 10_000) + STOP_MARGIN;
    const guard = setTimeout(() => {
      io.err(`${CliErrors.TIMEOUT.code}: stopping did not finish within ${limit} ms; exiting`);
      process.exit(1);
    }, limit);
    guard.unref();
    app.stop().then(
      () => {
        clearTimeout(guard);
        stopped();
      },
      (err: unknown) => {
        clearTimeout(guard);
        stopError = err;
        stopped();
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await app.start();
  } catch (err) {
    clearInterval(keepAlive);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    throw err;
  }
  if (signals === 0) {
    for (const url of app.exportedUrls()) io.out(`serving ${url.serviceKey} at ${url.protocol}://${url.address}`);
    io.out(`started ${app.config.application.name} (pid ${process.pid})`);
  }
  await done;
  clearInterval(keepAlive);
  if (stopError !== undefined) throw stopError;
  io.out(`stopped ${app.config.application.name}`);
}

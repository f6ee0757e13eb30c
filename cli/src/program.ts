import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/bench';
import { callCommand } from './commands/call';
import { configCommand } from './commands/config';
import { lsCommand } from './commands/ls';
import { ruleCommand } from './commands/rule';
import { startCommand } from './commands/start';
import { errorLine } from './format';
import type { Io } from './io';

/** The code of a usage mistake (unknown command or option, missing argument); commander's own words follow it. */
export const USAGE_ERROR = 'PLEXUS_ERR_CLI_USAGE';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION = (require('../package.json') as { version: string }).version;

/** The `plexus` command with every subcommand; errors are thrown (exitOverride), never exit here. */
export function buildProgram(io: Io): Command {
  const program = new Command('plexus')
    .description('Plexus RPC from the command line: run services, call and benchmark them, list a registry, explain a config, push rules')
    .version(VERSION, '-V, --version', 'print the version of the plexus command')
    // Program options only before the command: `call --version 1.0.0` is the service's version.
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  $ plexus start plexus.yaml
  $ plexus call demo.Greeter sayHello '["ada"]' --url plexus://127.0.0.1:20880
  $ plexus ls --registry local:///tmp/plexus-registry
  $ plexus bench demo.Greeter sayHello '["ada"]' --url plexus://127.0.0.1:20880 --concurrency 100
  $ plexus config plexus.yaml --explain
  $ plexus rule set demo.Greeter rules.yaml --registry zookeeper://127.0.0.1:2181

Run "plexus <command> --help" for the options and examples of a command.`,
    );
  for (const command of [startCommand(io), callCommand(io), lsCommand(io), benchCommand(io), configCommand(io), ruleCommand(io)]) {
    program.addCommand(command);
  }
  configureAll(program, io);
  return program;
}

/** Every command: errors thrown instead of exiting, and commander's messages as one coded line. */
function configureAll(command: Command, io: Io): void {
  command.exitOverride().configureOutput({
    writeOut: (text) => io.out(text.replace(/\n$/, '')),
    writeErr: (text) => io.err(text.replace(/\n$/, '')),
    outputError: (text, write) => write(`${USAGE_ERROR}: ${text.replace(/^error: /, '').trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' ')} (see plexus ${command.name() === 'plexus' ? '' : `${commandPath(command)} `}--help)\n`),
  });
  for (const sub of command.commands) configureAll(sub, io);
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Runs the command line and answers the exit code: 0 on success, 1 with one coded line on stderr otherwise. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    io.err(errorLine(err));
    return 1;
  }
}

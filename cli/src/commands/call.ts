import { Command, Option } from 'commander';
import { isAsyncIterable, PlexusError, RpcError } from '@plexus/kernel/spi';
import { intOption, parseArgsJson } from '../args';
import { CliErrors } from '../errors';
import { toJson } from '../format';
import { closeApp, genericOf, openApp, within, type TargetOptions } from '../target';
import type { Io } from '../io';

/** Default budget of one call from the command line, ms: long enough for a cold connection. */
export const DEFAULT_CALL_TIMEOUT = 5000;

export interface CallOptions extends TargetOptions {
  version?: string;
  group?: string;
  serializer?: string;
  timeout: number;
  pretty?: boolean;
}

/** What to try for each way a call fails. */
const CALL_HINTS: Record<string, string> = {
  NETWORK: 'no provider answered at that address: is it running, and on that port?',
  NO_PROVIDER: 'the registry lists no provider for this interface, version and group: check `plexus ls`',
  TIMEOUT: 'the provider did not answer in time: raise --timeout, or check the provider',
  SERVICE_NOT_FOUND: 'no service with that interface, version and group at the provider: check --version and --group (`plexus ls`)',
  SERVICE_ERROR: 'the implementation threw this error: it is the service\'s answer, not a failure of the call',
  METHOD_NOT_FOUND: 'the service has no such method: check the spelling',
};

export function callCommand(io: Io): Command {
  return new Command('call')
    .description('call a method of a service without its TypeScript interface and print the result as JSON')
    .argument('<interface>', 'the service interface, e.g. demo.Greeter')
    .argument('<method>', 'the method to call')
    .argument('[argsJson]', 'the arguments as a JSON array (a single non-array value is the only argument)')
    .option('--url <url>', 'call this provider directly: plexus://host:port')
    .option('--registry <registry>', 'find providers in this registry: local:///abs/dir, zookeeper://host:port, ...')
    .option('--config <file>', 'use the registry and consumer settings of this config file')
    .option('--version <version>', 'the service version')
    .option('--group <group>', 'the service group')
    .option('--serializer <name>', 'the body serializer: msgpack (default), json, ...')
    .addOption(new Option('--timeout <ms>', 'the whole call budget').default(DEFAULT_CALL_TIMEOUT).argParser(intOption('--timeout', 1, 3_600_000)))
    .option('--pretty', 'indent the JSON result')
    .addHelpText(
      'after',
      `
Examples:
  $ plexus call demo.Greeter sayHello '["ada"]' --url plexus://127.0.0.1:20880
  $ plexus call acc.Echo add '[40, 2]' --registry local:///tmp/plexus-registry --version 1.0.0
  $ plexus call demo.Greeter sayHello '"ada"' --config plexus.yaml --timeout 500
  $ plexus call market.Prices watch '["ACME"]' --url plexus://127.0.0.1:20880 --timeout 60000
      (a streamed answer prints one JSON line per item; --timeout covers the whole stream)`,
    )
    .action(async (iface: string, method: string, argsJson: string | undefined, options: CallOptions) => {
      const answer = await runCall(iface, method, argsJson, options, (line) => io.out(line));
      if (answer !== '') io.out(answer);
    });
}

/**
 * Runs one generic call and answers its result as JSON; failures are coded errors. A streamed
 * answer is printed as it arrives, one JSON line per item, through `emit` (the answer is then
 * the empty string); an error after some items fails the command after they were printed.
 */
export async function runCall(
  iface: string,
  method: string,
  argsJson: string | undefined,
  options: CallOptions,
  emit?: (line: string) => void,
): Promise<string> {
  const args = parseArgsJson(argsJson);
  const app = await openApp(options);
  try {
    const service = genericOf(app, iface, options);
    const what = `${iface}.${method}`;
    // The kernel bounds the call by --timeout; the guard covers what comes before it (a registry that never answers).
    const result = await within(
      service.$invoke(method, args),
      options.timeout + 1000,
      `the call ${what}`,
    ).catch((err: unknown) => {
      if (RpcError.is(err)) {
        const e = err as RpcError & { reason?: string };
        throw callFailed(what, e);
      }
      throw err;
    });
    if (isAsyncIterable(result)) {
      const lines: string[] = [];
      try {
        for await (const item of result) {
          const line = toJson(item, options.pretty ? 2 : undefined);
          if (emit !== undefined) emit(line);
          else lines.push(line);
        }
      } catch (err) {
        throw RpcError.is(err) ? callFailed(what, err as RpcError & { reason?: string }) : err;
      }
      return lines.join('\n');
    }
    return toJson(result, options.pretty ? 2 : undefined);
  } finally {
    await closeApp(app);
  }
}

/** Hints for framework reasons that say more than their RpcCode. */
const REASON_HINTS: Record<string, string> = {
  PLEXUS_ERR_APP_REGISTRY_PENDING: 'the registry sent no provider list in time: is it running at that address? (`plexus ls --registry ...` tells)',
};

/** PLEXUS_ERR_CLI_CALL_FAILED for a failed call, with the hint that fits its reason or RpcCode. */
export function callFailed(what: string, e: RpcError & { reason?: string }): PlexusError {
  const generic = CliErrors.CALL_FAILED(what, `${e.code}${e.reason ? ` (${e.reason})` : ''}`, e.message.split('\n')[0]);
  const hint = (e.reason !== undefined ? REASON_HINTS[e.reason] : undefined) ?? CALL_HINTS[e.code];
  if (!hint) return generic;
  const message = generic.message.slice(0, generic.message.lastIndexOf('\n  hint: '));
  return new PlexusError(CliErrors.CALL_FAILED.code, message, hint);
}

import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { RpcError } from '@plexus/kernel/spi';
import { intOption, parseArgsJson } from '../args';
import { runLoad, type LoadResult } from '../bench-loop';
import { CliErrors } from '../errors';
import { errorLine, ms } from '../format';
import { closeApp, genericOf, openApp, within, type TargetOptions } from '../target';
import type { Io } from '../io';
import { callFailed, DEFAULT_CALL_TIMEOUT } from './call';

export interface BenchOptions extends TargetOptions {
  version?: string;
  group?: string;
  serializer?: string;
  concurrency: number;
  duration: number;
  warmup: number;
  timeout: number;
  json?: boolean;
}

/** What `plexus bench --json` prints. */
export interface BenchReport {
  interface: string;
  method: string;
  concurrency: number;
  durationMs: number;
  calls: number;
  errors: number;
  rate: number;
  latencyMs: LoadResult['latencyMs'];
  /** Calls still unanswered when the drain after the window gave up (--timeout + 1 s). */
  stuck: number;
  /** CPU time of the bench process per call, µs (the provider's is not included). */
  clientCpuMicrosPerCall: number;
  firstError?: string;
}

export function benchCommand(io: Io): Command {
  return new Command('bench')
    .description('call a method as fast as it answers and report the rate and latency percentiles (p50, p90, p99, max)')
    .argument('<interface>', 'the service interface')
    .argument('<method>', 'the method to call')
    .argument('[argsJson]', 'the arguments of every call as a JSON array')
    .option('--url <url>', 'call this provider directly: plexus://host:port')
    .option('--registry <registry>', 'find providers in this registry: local:///abs/dir, zookeeper://host:port, ...')
    .option('--config <file>', 'use the registry and consumer settings of this config file')
    .option('--version <version>', 'the service version')
    .option('--group <group>', 'the service group')
    .option('--serializer <name>', 'the body serializer: msgpack (default), json, ...')
    // 100 in flight is where one Node provider is busy; `npm run bench` measures the same.
    .addOption(new Option('--concurrency <n>', 'calls kept in flight').default(100).argParser(intOption('--concurrency', 1, 10_000)))
    .addOption(new Option('--duration <ms>', 'the measured window').default(5000).argParser(intOption('--duration', 1, 86_400_000)))
    // Connections, the JIT and the provider's caches settle in the first second; it is not measured.
    .addOption(new Option('--warmup <ms>', 'calls before the window, not measured').default(1000).argParser(intOption('--warmup', 0, 600_000)))
    .addOption(new Option('--timeout <ms>', 'the budget of each call').default(DEFAULT_CALL_TIMEOUT).argParser(intOption('--timeout', 1, 3_600_000)))
    .option('--json', 'print the result as one JSON object')
    .addHelpText(
      'after',
      `
The progress bar is drawn on stderr when it is a terminal; the result goes to stdout.

Examples:
  $ plexus bench demo.Greeter sayHello '["ada"]' --url plexus://127.0.0.1:20880
  $ plexus bench acc.Echo add '[40, 2]' --registry local:///tmp/reg --concurrency 200 --duration 10000
  $ plexus bench demo.Greeter sayHello '["ada"]' --url plexus://127.0.0.1:20880 --json`,
    )
    .action(async (iface: string, method: string, argsJson: string | undefined, options: BenchOptions) => {
      const report = await runBench(iface, method, argsJson, options, io);
      io.out(options.json ? JSON.stringify(report) : formatBench(report));
      if (report.calls === 0) throw CliErrors.CALL_FAILED(`${iface}.${method}`, 'every call', report.firstError ?? 'no call completed in the window');
    });
}

/** Runs the load and answers its report; the first call must succeed or the bench does not start. */
export async function runBench(iface: string, method: string, argsJson: string | undefined, options: BenchOptions, io: Io): Promise<BenchReport> {
  const args = parseArgsJson(argsJson);
  const app = await openApp(options);
  try {
    const service = genericOf(app, iface, options);
    const what = `${iface}.${method}`;
    // The reference's `timeout` bounds each call. Per-call options (Plexus.withCallOptions) are not
    // used here: they switch on AsyncLocalStorage's promise hooks for the whole process, about a
    // tenth of the client's CPU per call under load.
    await within(
      service.$invoke(method, args),
      options.timeout + 1000,
      `the first call of ${what}`,
    ).catch((err: unknown) => {
      throw RpcError.is(err) ? callFailed(what, err as RpcError) : err;
    });
    const bar = io.progress
      ? new SingleBar({ format: ' {bar} {percentage}% | {elapsed}/{total} s | {rate} calls/s | {errors} failed', stream: io.progress as NodeJS.WriteStream, hideCursor: true, clearOnComplete: true })
      : undefined;
    bar?.start(Math.ceil(options.duration / 1000), 0, { rate: 0, errors: 0, elapsed: 0 });
    const result = await runLoad(() => service.$invoke(method, args), {
      concurrency: options.concurrency,
      warmupMs: options.warmup,
      durationMs: options.duration,
      drainMs: options.timeout + 1000,
      maxLatencyMs: options.timeout * 2,
      onTick: bar
        ? ({ elapsedMs, calls, errors }) =>
            bar.update(Math.min(Math.floor(elapsedMs / 1000), Math.ceil(options.duration / 1000)), {
              rate: elapsedMs > 0 ? Math.round((calls * 1000) / elapsedMs) : 0,
              errors,
              elapsed: Math.floor(elapsedMs / 1000),
            })
        : undefined,
      tickMs: 250,
    });
    bar?.stop();
    return {
      interface: iface,
      method,
      concurrency: options.concurrency,
      durationMs: Math.round(result.elapsedMs),
      calls: result.calls,
      errors: result.errors,
      rate: Math.round(result.rate),
      latencyMs: result.latencyMs,
      stuck: result.stuck,
      clientCpuMicrosPerCall: Math.round(result.cpuMicrosPerCall * 10) / 10,
      ...(result.firstError !== undefined ? { firstError: errorLine(result.firstError) } : {}),
    };
  } finally {
    await closeApp(app);
  }
}

/** The readable form of a bench report. */
export function formatBench(r: BenchReport): string {
  const lines = [
    `${r.interface}.${r.method}: ${r.concurrency} in flight for ${r.durationMs} ms`,
    `calls     ${r.calls} ok, ${r.errors} failed`,
    `rate      ${r.rate} calls/s   (this process: ${r.clientCpuMicrosPerCall} µs CPU per call)`,
    `latency   p50 ${ms(r.latencyMs.p50)}   p90 ${ms(r.latencyMs.p90)}   p99 ${ms(r.latencyMs.p99)}   max ${ms(r.latencyMs.max)}`,
  ];
  if (r.stuck > 0) lines.push(`${r.stuck} call(s) still unanswered after the window`);
  if (r.firstError) lines.push(`first error: ${r.firstError}`);
  return lines.join('\n');
}

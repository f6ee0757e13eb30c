/**
 * `npm run bench`: the RPC comparison (and optionally the codec suite) in one go; prints the
 * tables and writes `results/rpc-<timestamp>.json`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, USAGE, type CliOptions } from './options';
import { killAllPeers } from './peer-process';
import { formatRpcReport, formatStreamReport } from './report';
import { runRpcBench, type RpcBenchResult } from './rpc-bench';
import { runStreamBench, type StreamBenchResult } from './stream-bench';

/** The codec suite's module (bench/src/codec-suite.ts), loaded only when asked for. */
interface CodecSuiteModule {
  runCodecSuite(options: { quick: boolean }): unknown;
  formatCodecTable(results: unknown): string;
}

const RESULTS_DIR = path.resolve(__dirname, '..', 'results');

async function main(): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const output: { rpc?: RpcBenchResult; codecs?: unknown; streams?: StreamBenchResult } = {};

  if (!options.onlyCodecs && options.streams !== 'only') {
    const perMeasure = options.warmupMs + options.durationMs;
    const total = (options.rounds * options.concurrency.length * options.peers.length * perMeasure) / 1000;
    console.log(`RPC bench: peers ${options.peers.join(', ')}; concurrency ${options.concurrency.join(', ')}; payload ${options.payload}; about ${Math.ceil(total)} s of measuring.`);
    output.rpc = await runRpcBench({
      peers: options.peers,
      concurrency: options.concurrency,
      rounds: options.rounds,
      duration: options.durationMs,
      warmup: options.warmupMs,
      pin: options.pin,
      payload: options.payload,
      verbose: options.verbose,
      log: (line) => console.log(line),
    });
    console.log(`\n${formatRpcReport(output.rpc)}\n`);
  }

  if (options.streams !== 'off') {
    const rounds = options.quick ? 1 : options.rounds;
    console.log(`Streaming bench: ${options.streamItems.toLocaleString('en-US')} items per stream, plexus vs raw-msgpack, ${rounds} round(s).`);
    output.streams = await runStreamBench({
      items: options.streamItems,
      rounds,
      pin: options.pin !== 'none',
      verbose: options.verbose,
      log: (line) => console.log(line),
    });
    console.log(`\n${formatStreamReport(output.streams)}\n`);
  }

  if (options.codecs) {
    const suite = loadCodecSuite();
    if (typeof suite === 'string') {
      console.log(`Codec suite skipped: ${suite}`);
    } else {
      const results = await suite.runCodecSuite({ quick: options.quick });
      output.codecs = results;
      console.log(`\n${suite.formatCodecTable(results)}\n`);
    }
  }

  if (output.rpc !== undefined || output.codecs !== undefined || output.streams !== undefined) {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const kind = output.rpc ? 'rpc' : output.streams && !output.codecs ? 'streams' : 'codecs';
    const file = path.join(RESULTS_DIR, `${kind}-${stamp}.json`);
    const json = output.rpc ? { ...output.rpc, codecs: output.codecs, streams: output.streams } : output;
    fs.writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`Results written to ${path.relative(process.cwd(), file)}`);
  }
  return 0;
}

/** The codec suite if it is built, or why not: it is written separately and may lag behind. */
function loadCodecSuite(): CodecSuiteModule | string {
  const file = path.join(__dirname, 'codec-suite.js');
  if (!fs.existsSync(file)) return 'bench/dist/codec-suite.js not built (bench/src/codec-suite.ts missing or failing to compile)';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as Partial<CodecSuiteModule>;
  if (typeof mod.runCodecSuite !== 'function' || typeof mod.formatCodecTable !== 'function') {
    return 'codec-suite.js does not export runCodecSuite and formatCodecTable';
  }
  return mod as CodecSuiteModule;
}

// Peers must not outlive the bench, whatever ends it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping peer processes`);
    killAllPeers();
    process.exit(130);
  });
}

main().then(
  (code) => {
    killAllPeers();
    process.exitCode = code;
  },
  (err: unknown) => {
    killAllPeers();
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);

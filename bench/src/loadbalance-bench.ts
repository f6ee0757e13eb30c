/**
 * Micro-benchmark of the load balancers: nanoseconds per `select` for every balancer of
 * `@plexus/loadbalance` at 10 and 100 providers, warm, in this process. Providers have mixed
 * weights (100 and 200), so the weighted paths are measured, not the equal-weight shortcuts; each
 * call carries one of 1,024 distinct string keys (consistenthash hashes it). Balancers with attempt
 * hooks are measured a second time with `started` + `finished` around each select, as a cluster
 * calls them, and start with latency known for every provider and a quarter of them busy.
 *
 *   node bench/dist/loadbalance-bench.js [--json] [--iterations n] [--providers 10,100]
 *
 * Figures are the median of five timed batches (process.hrtime.bigint) after a warmup of a
 * quarter of the iterations; the machine is shared, so treat differences under ~20 % as noise.
 */
import { RpcInvocation, URL, type Invocation, type Invoker, type LoadBalance, type MethodSettings } from '@plexus/kernel/spi';
import {
  ConsistentHashLoadBalance,
  LeastActiveLoadBalance,
  P2cLoadBalance,
  RandomLoadBalance,
  RoundRobinLoadBalance,
  ShortestResponseLoadBalance,
} from '@plexus/loadbalance';

/** The balancers measured, by extension name, with the cost class of their select. */
export const BALANCERS: ReadonlyArray<{ name: string; cost: string; create: () => LoadBalance }> = [
  { name: 'random', cost: 'O(log n)', create: () => new RandomLoadBalance() },
  { name: 'roundrobin', cost: 'O(n)', create: () => new RoundRobinLoadBalance() },
  { name: 'leastactive', cost: 'O(n)', create: () => new LeastActiveLoadBalance() },
  { name: 'shortestresponse', cost: 'O(n)', create: () => new ShortestResponseLoadBalance() },
  { name: 'consistenthash', cost: 'O(log n)', create: () => new ConsistentHashLoadBalance() },
  { name: 'p2c', cost: 'O(log n)', create: () => new P2cLoadBalance() },
];

export interface LoadBalanceBenchOptions {
  /** Selects timed per balancer and list size (over five batches). Default 200,000. */
  iterations?: number;
  /** List sizes. Default [10, 100]. */
  providers?: number[];
  /** Only these balancers (extension names). Default all. */
  balancers?: string[];
}

export interface LoadBalanceMeasurement {
  balancer: string;
  providers: number;
  /** Cost class of one select. */
  cost: string;
  /** Median ns per select. */
  nsPerSelect: number;
  /** Median ns per select + started + finished; null for balancers without hooks. */
  nsPerSelectWithHooks: number | null;
  /** Selects timed for `nsPerSelect`. */
  iterations: number;
}

export interface LoadBalanceBenchResult {
  node: string;
  iterations: number;
  measurements: LoadBalanceMeasurement[];
}

const KEYS = 1024;

function invokersOf(n: number): Invoker[] {
  return Array.from({ length: n }, (_, i) => {
    const url = URL.parse(`plexus://10.${(i >> 8) & 255}.${i & 255}.1:20880/bench.Echo?weight=${i % 2 === 0 ? 100 : 200}`);
    return { url, invoke: () => Promise.reject(new Error('not called by the bench')) } satisfies Invoker;
  });
}

function invocationsOf(): Invocation[] {
  const settings: MethodSettings = Object.freeze({
    method: 'echo',
    timeout: 0,
    retries: 0,
    cluster: 'failfast',
    loadbalance: 'random',
    serializer: 'msgpack',
    compressor: 'identity',
    compressThreshold: 1024,
    idempotent: true,
    oneWay: false,
    stream: false,
    params: Object.freeze({}),
  });
  return Array.from(
    { length: KEYS },
    (_, i) => new RpcInvocation({ service: 'bench.Echo', method: 'echo', args: [`user-${i}`], attachments: {}, settings }),
  );
}

/** Gives a hook balancer some history: every provider answered a few times, a quarter have a call out. */
function seed(lb: LoadBalance, invokers: Invoker[], invocation: Invocation): void {
  if (!lb.started || !lb.finished) return;
  lb.select(invokers, invocation);
  for (let round = 0; round < 4; round++) {
    invokers.forEach((invoker, i) => {
      lb.started!(invoker, invocation);
      lb.finished!(invoker, invocation, 1 + ((i * 7 + round) % 5), false);
    });
  }
  for (let i = 0; i < invokers.length; i += 4) lb.started(invokers[i], invocation);
}

/** Median ns per operation of `batches` timed runs of `perBatch` calls of `body`. */
function timeIt(perBatch: number, batches: number, body: (i: number) => number): number {
  const samples: number[] = [];
  let sink = 0;
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) sink += body(i);
    const elapsed = Number(process.hrtime.bigint() - start);
    samples.push(elapsed / perBatch);
  }
  // The sink keeps the optimiser from dropping the calls; it is never printed.
  if (sink === -1) console.log(sink);
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

export function runLoadBalanceBench(options: LoadBalanceBenchOptions = {}): LoadBalanceBenchResult {
  const iterations = options.iterations ?? 200_000;
  if (!Number.isInteger(iterations) || iterations < 5) throw new RangeError(`--iterations must be an integer of at least 5, got ${iterations}`);
  const sizes = options.providers ?? [10, 100];
  const chosen = options.balancers ?? BALANCERS.map((b) => b.name);
  const unknown = chosen.filter((name) => !BALANCERS.some((b) => b.name === name));
  if (unknown.length > 0) throw new Error(`Unknown balancer "${unknown[0]}". Known: ${BALANCERS.map((b) => b.name).join(', ')}`);
  const invocations = invocationsOf();
  const batches = 5;
  const perBatch = Math.ceil(iterations / batches);
  const measurements: LoadBalanceMeasurement[] = [];
  for (const n of sizes) {
    const invokers = invokersOf(n);
    for (const spec of BALANCERS.filter((b) => chosen.includes(b.name))) {
      const lb = spec.create();
      seed(lb, invokers, invocations[0]);
      const select = (i: number) => (lb.select(invokers, invocations[i & (KEYS - 1)]) === invokers[0] ? 1 : 0);
      timeIt(Math.ceil(perBatch / 4), 1, select);
      const nsPerSelect = timeIt(perBatch, batches, select);
      let nsPerSelectWithHooks: number | null = null;
      if (lb.started && lb.finished) {
        const call = (i: number) => {
          const invocation = invocations[i & (KEYS - 1)];
          const picked = lb.select(invokers, invocation);
          lb.started!(picked, invocation);
          lb.finished!(picked, invocation, 1 + (i & 3), false);
          return picked === invokers[0] ? 1 : 0;
        };
        timeIt(Math.ceil(perBatch / 4), 1, call);
        nsPerSelectWithHooks = timeIt(perBatch, batches, call);
      }
      measurements.push({ balancer: spec.name, providers: n, cost: spec.cost, nsPerSelect, nsPerSelectWithHooks, iterations: perBatch * batches });
    }
  }
  return { node: process.version, iterations: perBatch * batches, measurements };
}

/** The result as a fixed-width table. */
export function formatLoadBalanceReport(result: LoadBalanceBenchResult): string {
  const rows = [['balancer', 'providers', 'cost', 'ns/select', 'ns/select+hooks']];
  for (const m of result.measurements) {
    rows.push([m.balancer, String(m.providers), m.cost, m.nsPerSelect.toFixed(0), m.nsPerSelectWithHooks === null ? '-' : m.nsPerSelectWithHooks.toFixed(0)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [
    `load balancers, ns per select (median of 5 batches, ${result.iterations} selects timed per row, node ${result.node})`,
    line(rows[0]),
    ...rows.slice(1).map(line),
  ].join('\n');
}

function parseArgs(argv: string[]): { json: boolean; options: LoadBalanceBenchOptions } {
  const options: LoadBalanceBenchOptions = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--json') json = true;
    else if (arg === '--iterations') options.iterations = Number(value());
    else if (arg === '--providers') options.providers = value().split(',').map(Number);
    else if (arg === '--balancers') options.balancers = value().split(',');
    else throw new Error(`Unknown option ${arg}. Options: --json, --iterations n, --providers 10,100, --balancers a,b`);
  }
  if (options.providers?.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000)) throw new Error('--providers takes list sizes from 1 to 100000');
  return { json, options };
}

if (require.main === module) {
  try {
    const { json, options } = parseArgs(process.argv.slice(2));
    const result = runLoadBalanceBench(options);
    console.log(json ? JSON.stringify(result, null, 2) : formatLoadBalanceReport(result));
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
  }
}

/**
 * The RPC comparison: every peer's server and client run as separate processes on 127.0.0.1,
 * and measurements are interleaved (round-robin over peers, several rounds) so a noisy moment on
 * a shared machine hits all peers alike; the report takes medians over rounds.
 */
import { canPin, layoutFor, type Layout, type PinMode } from './affinity';
import type { CpuTime, RunResult } from './ipc';
import { machineInfo, type MachineInfo } from './machine';
import { payloadSizes, type PayloadKind } from './payload';
import { killAllPeers, PeerPair } from './peer-process';
import { LARGE_PAYLOAD_PEER_NAMES, PEER_NAMES, peerByName, type PeerSpec } from './peers';
import { median, type LatencySummary } from './stats';

/** Options of {@link runRpcBench}; every field has a default. */
export interface RpcBenchOptions {
  /**
   * Peers to compare (default: all, see {@link PEER_NAMES}; with the `64k` payload, those that can
   * carry it, {@link LARGE_PAYLOAD_PEER_NAMES}).
   */
  peers?: string[];
  /**
   * What every call carries (default `small`): the ~100-byte object, or `64k`, one 64 KiB binary
   * body, for throughput in MB/s. The issue-7 targets and the plexus/raw targets are set for
   * `small` and are not evaluated with `64k`.
   */
  payload?: PayloadKind;
  /** Outstanding calls per client (default [1, 100]). */
  concurrency?: number[];
  /** Rounds over all peers and concurrencies (default 3). */
  rounds?: number;
  /** Measured window per measurement in ms (default 3000). */
  duration?: number;
  /** Warmup before each window in ms (default 1000). */
  warmup?: number;
  /** CPU placement of each pair's processes (default `auto`, see affinity.ts). */
  pin?: PinMode;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Forward the peer processes' output to stderr (default false). */
  verbose?: boolean;
  /** Folder holding the compiled `peers/` scripts (default: this module's folder). */
  distDir?: string;
}

/** One measured window of one peer at one concurrency. */
export interface RpcMeasurement {
  peer: string;
  concurrency: number;
  round: number;
  calls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  callsPerSec: number;
  latency: LatencySummary;
  /** CPU time over the window in µs, per process. */
  cpu: { client: number; server: number };
  /** Client + server CPU µs per completed call. */
  cpuUsPerCall: number;
  stuck: number;
  /** CPU placement in effect: `same` CPU, `split` over two, or `none` (unpinned). */
  layout: Layout;
}

/** Medians over rounds for one peer at one concurrency. */
export interface RpcSummaryRow {
  peer: string;
  concurrency: number;
  rounds: number;
  callsPerSec: number;
  p50: number;
  p99: number;
  cpuUsPerCall: number;
  /**
   * Payload throughput each way, in MB/s (10^6 bytes): calls/s × the payload's msgpack size. The
   * reply carries as many bytes back. Meaningful mostly with the `64k` payload.
   */
  mbPerSec: number;
  /** The client's and the server's share of {@link RpcSummaryRow.cpuUsPerCall} (medians). */
  cpuClientUsPerCall: number;
  cpuServerUsPerCall: number;
  errors: number;
  info: boolean;
}

/** One peer's throughput divided by another's, at one concurrency: `subject / peer`. */
export interface RpcRatio {
  concurrency: number;
  /** The numerator: `plexus`, or `plexus-registry` over `plexus` (what discovery costs). */
  subject: string;
  /** The denominator. */
  peer: string;
  /**
   * Median over rounds of subject calls/s ÷ peer calls/s within the same round (the two ran
   * minutes apart at most, so a slow spell of the machine affects both); NaN when either is missing.
   */
  ratio: number;
  /** Ratio of the medians in the summary table, for comparison. */
  ratioOfMedians: number;
  /** The goal, where one is set (plexus/raw and plexus-registry/plexus). */
  target?: number;
  /** Whether the goal is met; absent when there is no goal or no ratio. */
  pass?: boolean;
}

/** A measure the issue-7 targets compare: calls/s, p99 latency or CPU per call. */
export type TargetMetric = 'callsPerSec' | 'p99' | 'cpuUsPerCall';

/** One goal of issue 7: `subject metric ÷ peer metric` at one concurrency, against a bound. */
export interface TargetSpec {
  metric: TargetMetric;
  concurrency: number;
  /** `<=` for costs (latency, CPU), `>=` for throughput. */
  op: '<=' | '>=';
  target: number;
}

/** One goal of issue 7 as this run measured it. */
export interface TargetCheck extends TargetSpec {
  subject: string;
  peer: string;
  /** Median over rounds of the ratio within each round (as for {@link RpcRatio.ratio}); NaN when not measured. */
  ratio: number;
  /** Ratio of the summary table's medians. */
  ratioOfMedians: number;
  /** The summary table's medians of the subject and of the peer (calls/s, ms or µs). */
  subjectValue: number;
  peerValue: number;
  /** Whether the goal is met; absent when it could not be measured in this run (see `missing`). */
  pass?: boolean;
  /** Why there is no ratio, e.g. `raw-msgpack not in this run`. */
  missing?: string;
}

/** Payload throughput of one peer against another at one concurrency (the `64k` payload). */
export interface ThroughputRatio {
  concurrency: number;
  subject: string;
  peer: string;
  /** Medians over rounds, MB/s each way. */
  subjectMBps: number;
  peerMBps: number;
  /** Median of per-round ratios (the same as calls/s, as both carry the same bytes). */
  ratio: number;
}

/** How a peer fared as a whole. */
export interface RpcPeerStatus {
  name: string;
  description: string;
  info: boolean;
  status: 'ok' | 'unavailable' | 'failed';
  error?: string;
  details?: Record<string, unknown>;
}

/** Everything one run produced; this is what the JSON result file holds. */
export interface RpcBenchResult {
  kind: 'rpc';
  startedAt: string;
  finishedAt: string;
  options: {
    peers: string[];
    concurrency: number[];
    rounds: number;
    durationMs: number;
    warmupMs: number;
    pin: PinMode;
    pinnable: boolean;
    payload: PayloadKind;
  };
  machine: MachineInfo;
  /** 1/5/15-minute load average when the run ended (the start's is in `machine`). */
  loadAvgAtEnd: number[];
  /** The payload and its encoded sizes (`json` only for `small`: no JSON peer carries `64k`). */
  payloadBytes: { kind: PayloadKind; msgpack: number; json?: number };
  peers: RpcPeerStatus[];
  measurements: RpcMeasurement[];
  summary: RpcSummaryRow[];
  ratios: RpcRatio[];
  /** The issue-7 goals, plexus against raw-msgpack; empty without plexus or with the `64k` payload. */
  targets: TargetCheck[];
  /** plexus (and plexus-registry) MB/s against each raw peer; only with the `64k` payload. */
  throughput: ThroughputRatio[];
}

/** Plexus/raw throughput goals by concurrency. */
export const RAW_TARGETS: Readonly<Record<number, number>> = { 1: 0.8, 100: 0.6 };

/**
 * plexus-registry/plexus throughput goal at every concurrency: finding providers through a
 * registry happens when lists change, never per call, so it may cost at most noise.
 */
export const REGISTRY_TARGET = 0.97;

/**
 * plexus-governed/plexus throughput goal (issue 10): the governance filters, configured with
 * limits never reached, may cost at most a tenth of the calls per second.
 */
export const GOVERNED_TARGET = 0.9;

/**
 * plexus-metrics/plexus throughput goal (issue 12): `filter: [metrics]` on both sides may cost at
 * most a twentieth of the calls per second.
 */
export const METRICS_TARGET = 0.95;

/**
 * plexus-observed/plexus throughput goal (issue 12): `filter: [metrics, tracing]` on both sides,
 * with a registered no-op tracer, may cost at most 15% of the calls per second.
 */
export const OBSERVED_TARGET = 0.85;

/**
 * plexus-http/node-http throughput goal (issue 11): the http protocol through the whole Plexus
 * pipeline reaches at least 0.8× a bare `node:http` JSON echo with a keep-alive agent.
 */
export const HTTP_TARGET = 0.8;

/**
 * plexus-grpc/grpc throughput goal at c=100 (issue 13): a Plexus grpc server against a grpc-js
 * server, both answering the same grpc-js client.
 */
export const GRPC_SERVER_TARGET = 2;

/** The peer issue 7's goals are measured against: the floor for an RPC that must serialize. */
export const TARGET_PEER = 'raw-msgpack';

/**
 * Issue 7's goals for plexus against {@link TARGET_PEER}, same run, same placement: p99 at most 2×
 * and CPU per call at most 1.4× at c=100; calls/s at least 0.9× at c=100 and 0.95× at c=1.
 */
export const ISSUE_TARGETS: readonly TargetSpec[] = [
  { metric: 'p99', concurrency: 100, op: '<=', target: 2 },
  { metric: 'cpuUsPerCall', concurrency: 100, op: '<=', target: 1.4 },
  { metric: 'callsPerSec', concurrency: 100, op: '>=', target: 0.9 },
  { metric: 'callsPerSec', concurrency: 1, op: '>=', target: 0.95 },
];

/**
 * Runs the RPC comparison and returns the results (it writes no file; the CLI does).
 * Every peer process is stopped, or killed by PID, before this settles, also on failure.
 */
export async function runRpcBench(options: RpcBenchOptions = {}): Promise<RpcBenchResult> {
  const payload = options.payload ?? 'small';
  if (payload !== 'small' && payload !== '64k') throw new Error(`Unknown payload "${String(payload)}"; expected small or 64k`);
  const peers = (options.peers ?? (payload === '64k' ? [...LARGE_PAYLOAD_PEER_NAMES] : [...PEER_NAMES])).map(peerByName);
  if (payload === '64k') {
    const cannot = peers.filter((p) => !p.largePayload).map((p) => p.name);
    if (cannot.length > 0) {
      throw new Error(
        `${cannot.join(', ')} cannot carry the 64k payload as the same bytes (JSON, not msgpack); ` +
          `choose among ${LARGE_PAYLOAD_PEER_NAMES.join(', ')}`,
      );
    }
  }
  const concurrency = options.concurrency ?? [1, 100];
  const rounds = options.rounds ?? 3;
  const durationMs = options.duration ?? 3000;
  const warmupMs = options.warmup ?? 1000;
  const log = options.log ?? (() => undefined);
  const distDir = options.distDir ?? __dirname;
  const pinMode = options.pin ?? 'auto';
  if (peers.length === 0) throw new Error('No peers selected');
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`Bad concurrency: ${concurrency.join(',')}`);
  if (!(rounds >= 1) || !(durationMs > 0) || !(warmupMs >= 0)) throw new Error('rounds ≥ 1, duration > 0 and warmup ≥ 0 are required');

  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const statuses = new Map<string, RpcPeerStatus>(
    peers.map((p) => [p.name, { name: p.name, description: p.description, info: p.info === true, status: 'ok' }]),
  );
  const pairs = new Map<string, PeerPair>();
  const measurements: RpcMeasurement[] = [];
  const stopPairs = async () => {
    const all = [...pairs.values()];
    pairs.clear();
    await Promise.all(all.map((p) => p.stop().catch(() => p.kill())));
  };

  try {
    for (let round = 1; round <= rounds; round++) {
      // Fresh processes every round, started in a rotated order: a pair's own luck (heap layout,
      // start order) then varies between rounds and the median absorbs it.
      const order = rotate(peers, round - 1);
      for (const spec of order) {
        if ((statuses.get(spec.name) as RpcPeerStatus).status !== 'ok') continue;
        try {
          const pair = await PeerPair.start(spec, distDir, options.verbose === true, payload);
          pairs.set(spec.name, pair);
          (statuses.get(spec.name) as RpcPeerStatus).details = pair.info;
        } catch (err) {
          markDown(statuses, spec, 'unavailable', err);
          log(`${spec.name} unavailable: ${firstLine(err)}`);
        }
      }
      for (const c of concurrency) {
        for (const spec of order) {
          const pair = pairs.get(spec.name);
          if (pair === undefined) continue;
          try {
            const layout = pair.place(layoutFor(pinMode, c));
            const m = await pair.measure(c, warmupMs, durationMs);
            const row = toMeasurement(spec, c, round, m.client, m.serverCpu, layout);
            measurements.push(row);
            log(
              `round ${round}/${rounds}  c=${String(c).padEnd(4)} ${spec.name.padEnd(13)} ${fmtInt(row.callsPerSec).padStart(9)} calls/s  ` +
                `p50 ${row.latency.p50.toFixed(3)} ms  p99 ${row.latency.p99.toFixed(3)} ms  ${row.cpuUsPerCall.toFixed(1)} µs CPU/call` +
                (row.errors > 0 ? `  ${row.errors} errors (${row.firstError})` : ''),
            );
          } catch (err) {
            markDown(statuses, spec, 'failed', err);
            log(`${spec.name} failed: ${firstLine(err)}`);
            pair.kill();
            pairs.delete(spec.name);
          }
        }
      }
      await stopPairs();
    }
  } finally {
    await stopPairs();
    killAllPeers();
  }

  const payloadBytes = payloadSizes(payload);
  const summary = summarize(peers, concurrency, measurements, payloadBytes.msgpack);
  return {
    kind: 'rpc',
    startedAt,
    finishedAt: new Date().toISOString(),
    options: { peers: peers.map((p) => p.name), concurrency, rounds, durationMs, warmupMs, pin: pinMode, pinnable: canPin(), payload },
    machine,
    loadAvgAtEnd: machineInfo().loadAvg,
    payloadBytes,
    peers: [...statuses.values()],
    measurements,
    summary,
    // The targets are set for the small payload; with 64 KiB bodies the ratios are shown bare.
    ratios: ratios(peers, concurrency, summary, measurements, payload === 'small'),
    targets: payload === 'small' ? targetChecks(peers, concurrency, summary, measurements) : [],
    throughput: payload === '64k' ? throughputRatios(peers, concurrency, summary, measurements, payloadBytes.msgpack) : [],
  };
}

function toMeasurement(
  spec: PeerSpec,
  concurrency: number,
  round: number,
  client: RunResult,
  serverCpu: CpuTime,
  layout: Layout,
): RpcMeasurement {
  const clientCpu = client.cpu.user + client.cpu.system;
  const serverTotal = serverCpu.user + serverCpu.system;
  return {
    peer: spec.name,
    concurrency,
    round,
    calls: client.calls,
    errors: client.errors,
    firstError: client.firstError,
    elapsedMs: client.elapsedMs,
    callsPerSec: client.elapsedMs > 0 ? (client.calls * 1000) / client.elapsedMs : 0,
    latency: client.latency,
    cpu: { client: clientCpu, server: serverTotal },
    cpuUsPerCall: client.calls > 0 ? (clientCpu + serverTotal) / client.calls : NaN,
    stuck: client.stuck,
    layout,
  };
}

/** Medians per peer and concurrency, in peer order within each concurrency. */
function summarize(
  peers: readonly PeerSpec[],
  concurrency: readonly number[],
  ms: readonly RpcMeasurement[],
  payloadBytes: number,
): RpcSummaryRow[] {
  const rows: RpcSummaryRow[] = [];
  for (const c of concurrency) {
    for (const spec of peers) {
      const mine = ms.filter((m) => m.peer === spec.name && m.concurrency === c);
      if (mine.length === 0) continue;
      rows.push({
        peer: spec.name,
        concurrency: c,
        rounds: mine.length,
        callsPerSec: median(mine.map((m) => m.callsPerSec)),
        p50: median(mine.map((m) => m.latency.p50)),
        p99: median(mine.map((m) => m.latency.p99)),
        cpuUsPerCall: median(mine.map((m) => m.cpuUsPerCall)),
        mbPerSec: median(mine.map((m) => (m.callsPerSec * payloadBytes) / 1e6)),
        cpuClientUsPerCall: median(mine.map((m) => (m.calls > 0 ? m.cpu.client / m.calls : NaN))),
        cpuServerUsPerCall: median(mine.map((m) => (m.calls > 0 ? m.cpu.server / m.calls : NaN))),
        errors: mine.reduce((n, m) => n + m.errors, 0),
        info: spec.info === true,
      });
    }
  }
  return rows;
}

/**
 * Plexus ÷ each other peer, per concurrency, and plexus-registry ÷ plexus (the same pipeline
 * with discovery). Plexus/raw and plexus-registry/plexus carry targets; so does plexus-http ÷
 * node-http, computed whenever both run (with or without plexus).
 */
function ratios(
  peers: readonly PeerSpec[],
  concurrency: readonly number[],
  rows: readonly RpcSummaryRow[],
  ms: readonly RpcMeasurement[],
  withTargets: boolean,
): RpcRatio[] {
  const withPlexus = peers.some((p) => p.name === 'plexus');
  const httpPair = peers.some((p) => p.name === 'plexus-http') && peers.some((p) => p.name === 'node-http');
  const grpcPair = peers.some((p) => p.name === 'plexus-grpc') && peers.some((p) => p.name === 'grpc');
  if (!withPlexus && !httpPair && !grpcPair) return [];
  const pairs: Array<{ subject: string; peer: string; target: (c: number) => number | undefined }> = [];
  for (const spec of withPlexus ? peers : []) {
    if (spec.name === 'plexus' || spec.name === 'plexus-registry' || spec.name === 'plexus-governed' || spec.name === 'plexus-metrics' || spec.name === 'plexus-observed' || spec.name === 'plexus-http' || spec.name === 'plexus-grpc') continue;
    pairs.push({ subject: 'plexus', peer: spec.name, target: (c) => (spec.name === 'raw' ? RAW_TARGETS[c] : undefined) });
  }
  if (withPlexus && peers.some((p) => p.name === 'plexus-registry')) pairs.push({ subject: 'plexus-registry', peer: 'plexus', target: () => REGISTRY_TARGET });
  if (withPlexus && peers.some((p) => p.name === 'plexus-governed')) pairs.push({ subject: 'plexus-governed', peer: 'plexus', target: () => GOVERNED_TARGET });
  if (withPlexus && peers.some((p) => p.name === 'plexus-metrics')) pairs.push({ subject: 'plexus-metrics', peer: 'plexus', target: () => METRICS_TARGET });
  if (withPlexus && peers.some((p) => p.name === 'plexus-observed')) pairs.push({ subject: 'plexus-observed', peer: 'plexus', target: () => OBSERVED_TARGET });
  if (httpPair) pairs.push({ subject: 'plexus-http', peer: 'node-http', target: () => HTTP_TARGET });
  if (grpcPair) pairs.push({ subject: 'plexus-grpc', peer: 'grpc', target: (c) => (c >= 100 ? GRPC_SERVER_TARGET : undefined) });
  const rate = (peer: string, c: number, round: number) =>
    ms.find((m) => m.peer === peer && m.concurrency === c && m.round === round)?.callsPerSec;
  const out: RpcRatio[] = [];
  for (const c of concurrency) {
    for (const { subject, peer, target: targetOf } of pairs) {
      const mine = rows.find((r) => r.peer === subject && r.concurrency === c);
      const other = rows.find((r) => r.peer === peer && r.concurrency === c);
      const perRound = ms
        .filter((m) => m.peer === subject && m.concurrency === c)
        .map((m) => {
          const theirs = rate(peer, c, m.round);
          return theirs !== undefined && theirs > 0 ? m.callsPerSec / theirs : NaN;
        });
      const ratio = median(perRound);
      const target = withTargets ? targetOf(c) : undefined;
      out.push({
        concurrency: c,
        subject,
        peer,
        ratio,
        ratioOfMedians: mine && other && other.callsPerSec > 0 ? mine.callsPerSec / other.callsPerSec : NaN,
        ...(target === undefined ? {} : Number.isFinite(ratio) ? { target, pass: ratio >= target } : { target }),
      });
    }
  }
  return out;
}

/** The value of `metric` in one measurement. */
function metricOf(m: RpcMeasurement, metric: TargetMetric): number {
  return metric === 'p99' ? m.latency.p99 : metric === 'cpuUsPerCall' ? m.cpuUsPerCall : m.callsPerSec;
}

/**
 * `subject ÷ peer` for `metric` at `c`: the median over rounds of the ratio within each round,
 * and the ratio of the summary medians. NaN where either side has no finite positive value.
 */
function pairedRatio(
  subject: string,
  peer: string,
  c: number,
  metric: TargetMetric,
  rows: readonly RpcSummaryRow[],
  ms: readonly RpcMeasurement[],
): { ratio: number; ratioOfMedians: number; subjectValue: number; peerValue: number } {
  const perRound = ms
    .filter((m) => m.peer === subject && m.concurrency === c)
    .map((m) => {
      const other = ms.find((o) => o.peer === peer && o.concurrency === c && o.round === m.round);
      const theirs = other === undefined ? NaN : metricOf(other, metric);
      return theirs > 0 ? metricOf(m, metric) / theirs : NaN;
    });
  const mine = rows.find((r) => r.peer === subject && r.concurrency === c);
  const other = rows.find((r) => r.peer === peer && r.concurrency === c);
  const subjectValue = mine === undefined ? NaN : mine[metric];
  const peerValue = other === undefined ? NaN : other[metric];
  return { ratio: median(perRound), ratioOfMedians: peerValue > 0 ? subjectValue / peerValue : NaN, subjectValue, peerValue };
}

/** Issue 7's goals, plexus ÷ raw-msgpack; one row per goal whenever plexus ran, `missing` saying what was not measured. */
function targetChecks(
  peers: readonly PeerSpec[],
  concurrency: readonly number[],
  rows: readonly RpcSummaryRow[],
  ms: readonly RpcMeasurement[],
): TargetCheck[] {
  if (!peers.some((p) => p.name === 'plexus')) return [];
  const hasPeer = peers.some((p) => p.name === TARGET_PEER);
  return ISSUE_TARGETS.map((spec) => {
    const measured = pairedRatio('plexus', TARGET_PEER, spec.concurrency, spec.metric, rows, ms);
    const check: TargetCheck = { ...spec, subject: 'plexus', peer: TARGET_PEER, ...measured };
    if (!hasPeer) check.missing = `${TARGET_PEER} not in this run`;
    else if (!concurrency.includes(spec.concurrency)) check.missing = `c=${spec.concurrency} not in this run`;
    else if (!Number.isFinite(measured.ratio)) check.missing = 'no paired measurement (a peer failed)';
    else check.pass = spec.op === '<=' ? measured.ratio <= spec.target : measured.ratio >= spec.target;
    return check;
  });
}

/** With the 64 KiB payload: MB/s of plexus and plexus-registry against each raw peer in the run. */
function throughputRatios(
  peers: readonly PeerSpec[],
  concurrency: readonly number[],
  rows: readonly RpcSummaryRow[],
  ms: readonly RpcMeasurement[],
  payloadBytes: number,
): ThroughputRatio[] {
  const subjects = peers.filter((p) => p.name === 'plexus' || p.name === 'plexus-registry').map((p) => p.name);
  const floors = peers.filter((p) => p.script === 'raw').map((p) => p.name);
  const out: ThroughputRatio[] = [];
  for (const c of concurrency) {
    for (const subject of subjects) {
      for (const peer of floors) {
        const r = pairedRatio(subject, peer, c, 'callsPerSec', rows, ms);
        out.push({
          concurrency: c,
          subject,
          peer,
          subjectMBps: (r.subjectValue * payloadBytes) / 1e6,
          peerMBps: (r.peerValue * payloadBytes) / 1e6,
          ratio: r.ratio,
        });
      }
    }
  }
  return out;
}

/** Peers in a different starting position each round, so none always runs first. */
function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

function markDown(statuses: Map<string, RpcPeerStatus>, spec: PeerSpec, status: 'unavailable' | 'failed', err: unknown): void {
  const s = statuses.get(spec.name) as RpcPeerStatus;
  s.status = status;
  s.error = err instanceof Error ? err.message : String(err);
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0];
}

/** Integer with thousands separators. */
export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

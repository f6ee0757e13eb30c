/**
 * Text output of the RPC bench: the table of medians, the ratios with their targets, issue 7's
 * goals against raw-msgpack and, with the 64 KiB payload, throughput in MB/s.
 */
import { fmtInt, TARGET_PEER, type RpcBenchResult, type TargetCheck, type TargetMetric } from './rpc-bench';
import type { StreamBenchResult } from './stream-bench';

/** Formats a finished run as a plain-text report (no colours, so it pastes anywhere). */
export function formatRpcReport(result: RpcBenchResult): string {
  const { machine, options } = result;
  const lines: string[] = [];
  lines.push(
    `RPC bench — ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${machine.platform}/${machine.arch}`,
    `${options.rounds} round(s) × ${options.durationMs} ms (warmup ${options.warmupMs} ms), interleaved; medians over rounds.`,
    pinning(result),
    payloadLine(result) +
      `Load average ${machine.loadAvg[0]} at start, ${result.loadAvgAtEnd[0]} at end (${machine.cpus} CPUs).`,
    '',
  );

  const large = result.payloadBytes.kind === '64k';
  const header = ['peer', 'conc', 'calls/s', ...(large ? ['MB/s'] : []), 'p50 ms', 'p99 ms', 'CPU µs/call', 'client+server', 'rounds', 'errors'];
  const body = result.summary.map((r) => [
    r.info ? `${r.peer} (info)` : r.peer,
    String(r.concurrency),
    fmtInt(r.callsPerSec),
    ...(large ? [fmtMBps(r.mbPerSec)] : []),
    fmtMs(r.p50),
    fmtMs(r.p99),
    Number.isFinite(r.cpuUsPerCall) ? r.cpuUsPerCall.toFixed(1) : 'n/a',
    Number.isFinite(r.cpuUsPerCall) ? `${r.cpuClientUsPerCall.toFixed(1)}+${r.cpuServerUsPerCall.toFixed(1)}` : '',
    String(r.rounds),
    String(r.errors),
  ]);
  lines.push(...table(header, body, header.map((_, i) => i > 0)));

  const down = result.peers.filter((p) => p.status !== 'ok');
  if (down.length > 0) {
    lines.push('');
    for (const p of down) lines.push(`${p.name}: ${p.status} — ${(p.error ?? '').split('\n')[0]}`);
  }

  if (result.ratios.length > 0) {
    lines.push('', 'Ratios (calls/s; median of per-round ratios, ratio of the medians in brackets):');
    const rows = result.ratios.map((r) => [
      `c=${r.concurrency}`,
      `${r.subject}/${r.peer}`,
      Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : 'n/a',
      Number.isFinite(r.ratioOfMedians) ? `(${r.ratioOfMedians.toFixed(2)})` : '',
      r.target === undefined ? '' : `target ≥ ${r.target}`,
      r.target === undefined ? '' : r.pass === undefined ? 'n/a' : r.pass ? 'PASS' : 'FAIL',
    ]);
    lines.push(...table(['conc', 'ratio', 'value', '', 'target', ''], rows, [false, false, true, true, false, false]));
  }

  if (result.targets.length > 0) lines.push('', ...targetBlock(result.targets));
  else if (large && result.summary.some((r) => r.peer === 'plexus')) {
    lines.push('', `Issue 7 targets (plexus / ${TARGET_PEER}): not evaluated, they are set for the default payload.`);
  }

  if (result.throughput.length > 0) {
    lines.push('', `Throughput, ${result.payloadBytes.msgpack} B each way per call (MB/s = 10^6 B/s; median of per-round ratios):`);
    const rows = result.throughput.map((t) => [
      `c=${t.concurrency}`,
      `${t.subject}/${t.peer}`,
      fmtMBps(t.subjectMBps),
      fmtMBps(t.peerMBps),
      Number.isFinite(t.ratio) ? t.ratio.toFixed(2) : 'n/a',
    ]);
    lines.push(...table(['conc', 'pair', 'MB/s', 'against', 'ratio'], rows, [false, false, true, true, true]));
  }
  return lines.join('\n');
}

const METRIC_NAMES: Record<TargetMetric, string> = { callsPerSec: 'calls/s', p99: 'p99', cpuUsPerCall: 'CPU µs/call' };

/** Issue 7's goals: value (ratio of medians), target and PASS / MISS, or n/a with the reason. */
function targetBlock(checks: readonly TargetCheck[]): string[] {
  const rows = checks.map((t) => [
    `c=${t.concurrency}`,
    `${METRIC_NAMES[t.metric]} ${t.subject}/${t.peer}`,
    Number.isFinite(t.ratio) ? t.ratio.toFixed(2) : 'n/a',
    Number.isFinite(t.ratioOfMedians) ? `(${t.ratioOfMedians.toFixed(2)})` : '',
    `target ${t.op === '<=' ? '≤' : '≥'} ${t.target}`,
    t.pass === undefined ? `n/a: ${t.missing ?? 'not measured'}` : t.pass ? 'PASS' : 'MISS',
  ]);
  return [
    `Issue 7 targets (plexus / ${TARGET_PEER}, same run; median of per-round ratios, ratio of the medians in brackets):`,
    ...table(['conc', 'measure', 'value', '', 'target', ''], rows, [false, false, true, true, false, false]),
  ];
}

function payloadLine(result: RpcBenchResult): string {
  const { kind, msgpack, json } = result.payloadBytes;
  if (kind === '64k') return `Payload: 64 KiB binary body, ${msgpack} B msgpack, the same bytes for every peer. `;
  return `Payload: ${msgpack} B msgpack / ${json ?? 'n/a'} B JSON. `;
}

function fmtMBps(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

function pinning(result: RpcBenchResult): string {
  const { pin, pinnable } = result.options;
  if (pin === 'none') return 'CPU pinning: none (scheduler placement).';
  if (!pinnable) return `CPU pinning: ${pin} requested but unavailable (needs Linux, taskset, 2 CPUs); unpinned.`;
  const modes: Record<string, string> = {
    auto: 'c=1 client and server share CPU 0; c>1 client on CPU 0, server on CPU 1',
    same: 'client and server share CPU 0',
    split: 'client on CPU 0, server on CPU 1',
  };
  return `CPU pinning: ${pin} (${modes[pin]}).`;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms < 10 ? ms.toFixed(3) : ms.toFixed(1);
}

function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** The streaming measurement: items/s and CPU per item of each peer, and plexus against raw. */
export function formatStreamReport(result: StreamBenchResult): string {
  const { options } = result;
  const lines = [
    `Streaming bench — one stream of ${fmtInt(options.items)} small items (msgpack, ~30 B), server process → this process; ` +
      `${options.rounds} round(s), medians; ${options.pinned ? 'server on CPU 1, reader on CPU 0' : 'not pinned'}; load average ${result.loadAvg[0]}.`,
    '',
  ];
  const header = ['peer', 'items/s', 'CPU µs/item reader', 'CPU µs/item server'];
  const body = result.summary.map((r) => [r.peer, fmtInt(r.itemsPerSec), r.clientCpuUsPerItem.toFixed(2), r.serverCpuUsPerItem.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(row(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(row), '');
  const met = result.ratio >= result.target;
  lines.push(`plexus / raw-msgpack items/s: ${result.ratio.toFixed(2)}× (target ≥ ${result.target}×: ${met ? 'met' : 'NOT met'})`);
  return lines.join('\n');
}

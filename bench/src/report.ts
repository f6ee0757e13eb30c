/**
 * Text output of the RPC bench: the table of medians and the ratios with their targets.
 */
import { fmtInt, type RpcBenchResult } from './rpc-bench';

/** Formats a finished run as a plain-text report (no colours, so it pastes anywhere). */
export function formatRpcReport(result: RpcBenchResult): string {
  const { machine, options } = result;
  const lines: string[] = [];
  lines.push(
    `RPC bench — ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${machine.platform}/${machine.arch}`,
    `${options.rounds} round(s) × ${options.durationMs} ms (warmup ${options.warmupMs} ms), interleaved; medians over rounds.`,
    pinning(result),
    `Payload: ${result.payloadBytes.msgpack} B msgpack / ${result.payloadBytes.json} B JSON. ` +
      `Load average ${machine.loadAvg[0]} at start, ${result.loadAvgAtEnd[0]} at end (${machine.cpus} CPUs).`,
    '',
  );

  const header = ['peer', 'conc', 'calls/s', 'p50 ms', 'p99 ms', 'CPU µs/call', 'client+server', 'rounds', 'errors'];
  const body = result.summary.map((r) => [
    r.info ? `${r.peer} (info)` : r.peer,
    String(r.concurrency),
    fmtInt(r.callsPerSec),
    fmtMs(r.p50),
    fmtMs(r.p99),
    Number.isFinite(r.cpuUsPerCall) ? r.cpuUsPerCall.toFixed(1) : 'n/a',
    Number.isFinite(r.cpuUsPerCall) ? `${r.cpuClientUsPerCall.toFixed(1)}+${r.cpuServerUsPerCall.toFixed(1)}` : '',
    String(r.rounds),
    String(r.errors),
  ]);
  lines.push(...table(header, body, [false, true, true, true, true, true, true, true, true]));

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
  return lines.join('\n');
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

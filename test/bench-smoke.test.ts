/**
 * Smoke test of the bench harness (built by `npm run build`): one short raw-TCP measurement
 * through real peer processes on 127.0.0.1. It checks that the harness measures something, not
 * how fast: the machines are shared, so there are no timing thresholds.
 */
import { livePeerPids } from '../bench/dist/peer-process';
import { formatRpcReport } from '../bench/dist/report';
import { runRpcBench } from '../bench/dist/rpc-bench';

describe('bench harness', () => {
  it('measures the raw peer end to end and stops its processes', async () => {
    const result = await runRpcBench({ peers: ['raw'], concurrency: [1], rounds: 1, duration: 300, warmup: 100 });

    expect(result.peers).toEqual([expect.objectContaining({ name: 'raw', status: 'ok' })]);
    expect(result.measurements).toHaveLength(1);
    const m = result.measurements[0];
    expect(m).toMatchObject({ peer: 'raw', concurrency: 1, round: 1, errors: 0, stuck: 0 });
    expect(m.calls).toBeGreaterThan(0);
    expect(m.latency.count).toBe(m.calls);
    for (const v of [m.latency.p50, m.latency.p99, m.callsPerSec, m.cpuUsPerCall]) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
    }
    expect(m.latency.p50).toBeLessThanOrEqual(m.latency.p99);
    expect(result.summary).toEqual([expect.objectContaining({ peer: 'raw', concurrency: 1, rounds: 1 })]);
    // Without plexus in the run there is nothing to divide by.
    expect(result.ratios).toEqual([]);
    expect(formatRpcReport(result)).toContain('raw');
    expect(livePeerPids()).toEqual([]);
  }, 60_000);

  it('reports an unknown peer with the known names', async () => {
    await expect(runRpcBench({ peers: ['rwa'] })).rejects.toThrow(/Unknown peer "rwa".*raw/);
  });
});

/**
 * The bench's `plexus-metrics` peer (built by `npm run build`): the same pipeline as `plexus` with
 * `filter: [metrics]` on both sides, reported as plexus-metrics/plexus against its target. A short
 * run: it checks the peer works and is reported, not its speed.
 */
import { livePeerPids } from '../bench/dist/peer-process';
import { formatRpcReport } from '../bench/dist/report';
import { METRICS_TARGET, runRpcBench } from '../bench/dist/rpc-bench';

describe('bench peer plexus-metrics', () => {
  it('measures calls with the metrics filter on, next to plexus, and reports plexus-metrics/plexus', async () => {
    const result = await runRpcBench({ peers: ['plexus', 'plexus-metrics'], concurrency: [1], rounds: 1, duration: 300, warmup: 100 });
    expect(result.peers.map((p) => [p.name, p.status, p.error])).toEqual([
      ['plexus', 'ok', undefined],
      ['plexus-metrics', 'ok', undefined],
    ]);
    const m = result.measurements.find((x) => x.peer === 'plexus-metrics');
    expect(m).toMatchObject({ concurrency: 1, errors: 0, stuck: 0 });
    expect(m!.calls).toBeGreaterThan(0);
    expect(result.ratios).toEqual([expect.objectContaining({ concurrency: 1, subject: 'plexus-metrics', peer: 'plexus', target: METRICS_TARGET })]);
    expect(result.ratios[0].pass).toBe(result.ratios[0].ratio >= METRICS_TARGET);
    expect(formatRpcReport(result)).toContain('plexus-metrics/plexus');
    expect(livePeerPids()).toEqual([]);
  }, 60_000);
});

/**
 * The bench's `plexus-observed` peer (built by `npm run build`): the same pipeline as `plexus` with
 * `filter: [metrics, tracing]` on both sides and a registered no-op tracer, reported as
 * plexus-observed/plexus against its target. A short run: it checks the peer works and is
 * reported, not its speed.
 */
import { livePeerPids } from '../bench/dist/peer-process';
import { formatRpcReport } from '../bench/dist/report';
import { OBSERVED_TARGET, runRpcBench } from '../bench/dist/rpc-bench';

describe('bench peer plexus-observed', () => {
  it('measures calls with the metrics and tracing filters on, next to plexus, and reports plexus-observed/plexus', async () => {
    const result = await runRpcBench({ peers: ['plexus', 'plexus-observed'], concurrency: [1], rounds: 1, duration: 300, warmup: 100 });
    expect(result.peers.map((p) => [p.name, p.status, p.error])).toEqual([
      ['plexus', 'ok', undefined],
      ['plexus-observed', 'ok', undefined],
    ]);
    const m = result.measurements.find((x) => x.peer === 'plexus-observed');
    expect(m).toMatchObject({ concurrency: 1, errors: 0, stuck: 0 });
    expect(m!.calls).toBeGreaterThan(0);
    expect(result.ratios).toEqual([expect.objectContaining({ concurrency: 1, subject: 'plexus-observed', peer: 'plexus', target: OBSERVED_TARGET })]);
    expect(result.ratios[0].pass).toBe(result.ratios[0].ratio >= OBSERVED_TARGET);
    expect(formatRpcReport(result)).toContain('plexus-observed/plexus');
    expect(livePeerPids()).toEqual([]);
  }, 60_000);
});

/**
 * The bench's `plexus-governed` peer (built by `npm run build`): the same pipeline as `plexus` with
 * the governance filters configured but never hit, reported as plexus-governed/plexus against its
 * target. A short run: it checks the peer works and is reported, not its speed.
 */
import { livePeerPids } from '../bench/dist/peer-process';
import { formatRpcReport } from '../bench/dist/report';
import { GOVERNED_TARGET, runRpcBench } from '../bench/dist/rpc-bench';

describe('bench peer plexus-governed', () => {
  it('measures calls with the governance filters on, next to plexus, and reports plexus-governed/plexus', async () => {
    const result = await runRpcBench({ peers: ['plexus', 'plexus-governed'], concurrency: [1], rounds: 1, duration: 300, warmup: 100 });
    expect(result.peers.map((p) => [p.name, p.status, p.error])).toEqual([
      ['plexus', 'ok', undefined],
      ['plexus-governed', 'ok', undefined],
    ]);
    const m = result.measurements.find((x) => x.peer === 'plexus-governed');
    expect(m).toMatchObject({ concurrency: 1, errors: 0, stuck: 0 });
    expect(m!.calls).toBeGreaterThan(0);
    expect(result.ratios).toEqual([expect.objectContaining({ concurrency: 1, subject: 'plexus-governed', peer: 'plexus', target: GOVERNED_TARGET })]);
    expect(result.ratios[0].pass).toBe(result.ratios[0].ratio >= GOVERNED_TARGET);
    expect(formatRpcReport(result)).toContain('plexus-governed/plexus');
    expect(livePeerPids()).toEqual([]);
  }, 60_000);
});

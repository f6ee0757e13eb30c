/**
 * The bench's `plexus-http` and `node-http` peers (built by `npm run build`): the Plexus http
 * protocol through the whole pipeline next to a bare `node:http` JSON echo, reported as
 * plexus-http/node-http against its target. A short run: it checks the peers work and are
 * reported, not their speed.
 */
import { livePeerPids } from '../bench/dist/peer-process';
import { formatRpcReport } from '../bench/dist/report';
import { HTTP_TARGET, runRpcBench } from '../bench/dist/rpc-bench';

describe('bench peers plexus-http and node-http', () => {
  it('measures calls on both, and reports plexus-http/node-http with its target', async () => {
    const result = await runRpcBench({ peers: ['plexus-http', 'node-http'], concurrency: [1], rounds: 1, duration: 300, warmup: 100 });
    expect(result.peers.map((p) => [p.name, p.status, p.error])).toEqual([
      ['plexus-http', 'ok', undefined],
      ['node-http', 'ok', undefined],
    ]);
    for (const name of ['plexus-http', 'node-http']) {
      const m = result.measurements.find((x) => x.peer === name);
      expect(m).toMatchObject({ concurrency: 1, errors: 0, stuck: 0 });
      expect(m!.calls).toBeGreaterThan(0);
    }
    expect(result.ratios).toEqual([expect.objectContaining({ concurrency: 1, subject: 'plexus-http', peer: 'node-http', target: HTTP_TARGET })]);
    expect(result.ratios[0].pass).toBe(result.ratios[0].ratio >= HTTP_TARGET);
    expect(formatRpcReport(result)).toContain('plexus-http/node-http');
    expect(livePeerPids()).toEqual([]);
  }, 60_000);
});

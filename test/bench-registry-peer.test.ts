/**
 * The bench's `plexus-registry` peer (built by `npm run build`): the client finds the server
 * through the embedded local registry with no URL, its throughput is reported as a ratio over
 * `plexus` with the 0.97 target, and the registry folder the server made is gone afterwards.
 * Checks that the harness measures it, not how fast: the machines are shared.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { livePeerPids } from '../bench/dist/peer-process';
import { formatRpcReport } from '../bench/dist/report';
import { REGISTRY_TARGET, runRpcBench } from '../bench/dist/rpc-bench';

const registryDirs = () => new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('plexus-bench-registry-')));

describe('bench peer plexus-registry', () => {
  it('measures calls through discovery next to plexus and reports plexus-registry/plexus', async () => {
    const before = registryDirs();
    const result = await runRpcBench({ peers: ['plexus', 'plexus-registry'], concurrency: [1], rounds: 1, duration: 300, warmup: 100 });

    expect(result.peers.map((p) => [p.name, p.status, p.error])).toEqual([
      ['plexus', 'ok', undefined],
      ['plexus-registry', 'ok', undefined],
    ]);
    const m = result.measurements.find((x) => x.peer === 'plexus-registry');
    expect(m).toMatchObject({ concurrency: 1, errors: 0, stuck: 0 });
    expect(m!.calls).toBeGreaterThan(0);

    expect(result.ratios).toEqual([
      expect.objectContaining({ concurrency: 1, subject: 'plexus-registry', peer: 'plexus', target: REGISTRY_TARGET }),
    ]);
    const ratio = result.ratios[0];
    expect(Number.isFinite(ratio.ratio) && ratio.ratio > 0).toBe(true);
    expect(ratio.pass).toBe(ratio.ratio >= REGISTRY_TARGET);
    expect(formatRpcReport(result)).toContain('plexus-registry/plexus');

    expect(livePeerPids()).toEqual([]);
    expect([...registryDirs()].filter((d) => !before.has(d))).toEqual([]);
  }, 60_000);
});

/**
 * The issue-7 target block and the 64 KiB payload
 * case of the bench, from bench/dist. Checks what is computed and printed, not how fast.
 */
import { parseArgs } from '../bench/dist/options';
import { LARGE_PAYLOAD_BYTES, largePayload, payloadSizes } from '../bench/dist/payload';
import { livePeerPids } from '../bench/dist/peer-process';
import { formatRpcReport } from '../bench/dist/report';
import { ISSUE_TARGETS, runRpcBench } from '../bench/dist/rpc-bench';

describe('bench options for the 64k payload', () => {
  it('defaults to the peers that can carry it and refuses the others', () => {
    const o = parseArgs(['--payload', '64k']);
    expect(o.payload).toBe('64k');
    expect(o.peers).not.toContain('moleculer');
    expect(o.peers).toEqual(expect.arrayContaining(['raw', 'raw-msgpack', 'plexus']));
    expect(parseArgs([]).payload).toBe('small');
    expect(parseArgs([]).peers).toContain('moleculer');
    expect(() => parseArgs(['--payload', '64k', '--peers', 'raw,moleculer'])).toThrow(/moleculer cannot carry it/);
    expect(() => parseArgs(['--payload', '1m'])).toThrow(/--payload expects one of small, 64k/);
  });

  it('builds the same 64 KiB body everywhere, and it encodes to 65,541 msgpack bytes', () => {
    expect(largePayload().equals(largePayload())).toBe(true);
    expect(largePayload().length).toBe(LARGE_PAYLOAD_BYTES);
    expect(payloadSizes('64k')).toEqual({ kind: '64k', msgpack: LARGE_PAYLOAD_BYTES + 5 });
  });
});

describe('bench runs', () => {
  afterEach(() => expect(livePeerPids()).toEqual([]));

  it('with 64k: MB/s per row and plexus/raw throughput, no targets', async () => {
    const result = await runRpcBench({ payload: '64k', peers: ['raw', 'plexus'], concurrency: [1], rounds: 1, duration: 300, warmup: 100 });
    expect(result.peers.map((p) => [p.name, p.status, p.error])).toEqual([
      ['raw', 'ok', undefined],
      ['plexus', 'ok', undefined],
    ]);
    for (const m of result.measurements) expect(m).toMatchObject({ errors: 0, stuck: 0 });
    for (const r of result.summary) expect(r.mbPerSec).toBeCloseTo((r.callsPerSec * 65_541) / 1e6, 6);
    expect(result.targets).toEqual([]);
    expect(result.ratios.every((r) => r.target === undefined)).toBe(true);
    expect(result.throughput).toEqual([expect.objectContaining({ concurrency: 1, subject: 'plexus', peer: 'raw' })]);
    expect(result.throughput[0].ratio).toBeGreaterThan(0);
    const text = formatRpcReport(result);
    expect(text).toMatch(/MB\/s/);
    expect(text).toMatch(/c=1\s+plexus\/raw\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
    expect(text).toContain('not evaluated');
  }, 90_000);

  it('refuses moleculer with 64k', async () => {
    await expect(runRpcBench({ payload: '64k', peers: ['moleculer'] })).rejects.toThrow(/moleculer cannot carry the 64k payload/);
  });

  it('with the small payload: the four issue-7 targets against raw-msgpack, PASS or MISS', async () => {
    const result = await runRpcBench({ peers: ['raw-msgpack', 'plexus'], concurrency: [1, 100], rounds: 1, duration: 300, warmup: 100 });
    expect(result.targets.map((t) => [t.metric, t.concurrency, t.op, t.target])).toEqual(
      ISSUE_TARGETS.map((t) => [t.metric, t.concurrency, t.op, t.target]),
    );
    expect(ISSUE_TARGETS.map((t) => t.target)).toEqual([2, 1.4, 0.9, 0.95]);
    for (const t of result.targets) {
      expect(t).toMatchObject({ subject: 'plexus', peer: 'raw-msgpack' });
      expect(typeof t.pass).toBe('boolean');
      expect(t.pass).toBe(t.op === '<=' ? t.ratio <= t.target : t.ratio >= t.target);
      expect(t.ratio).toBeCloseTo(t.ratioOfMedians, 9); // one round: both are the same ratio
    }
    const p99 = result.targets[0];
    const plexus = result.summary.find((r) => r.peer === 'plexus' && r.concurrency === 100)!;
    const floor = result.summary.find((r) => r.peer === 'raw-msgpack' && r.concurrency === 100)!;
    expect(p99.ratio).toBeCloseTo(plexus.p99 / floor.p99, 9);
    expect(formatRpcReport(result)).toMatch(/c=100\s+p99 plexus\/raw-msgpack\s+[\d.]+\s+\([\d.]+\)\s+target ≤ 2\s+(PASS|MISS)/);
  }, 90_000);

  it('says why a target is not measured', async () => {
    const result = await runRpcBench({ peers: ['plexus'], concurrency: [1], rounds: 1, duration: 200, warmup: 50 });
    expect(result.targets).toHaveLength(4);
    for (const t of result.targets) {
      expect(t.pass).toBeUndefined();
      expect(t.missing).toBe('raw-msgpack not in this run');
    }
    expect(formatRpcReport(result)).toContain('n/a: raw-msgpack not in this run');
  }, 60_000);
});

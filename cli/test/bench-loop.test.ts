import { runLoad } from '../src/bench-loop';

/** A call that settles after `ms` on a timer, counting how many are in flight at once. */
function fakeService(ms: number, fail = (_n: number) => false) {
  const seen = { inFlight: 0, maxInFlight: 0, issued: 0 };
  const call = () => {
    const n = ++seen.issued;
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    return new Promise<void>((resolve, reject) =>
      setTimeout(() => {
        seen.inFlight--;
        if (fail(n)) reject(new Error(`fail ${n}`));
        else resolve();
      }, ms),
    );
  };
  return { call, seen };
}

describe('runLoad', () => {
  it('keeps exactly `concurrency` calls in flight and measures only the window', async () => {
    const { call, seen } = fakeService(5);
    const result = await runLoad(call, { concurrency: 8, warmupMs: 100, durationMs: 300, drainMs: 1000, maxLatencyMs: 1000 });
    expect(seen.maxInFlight).toBe(8);
    expect(result.errors).toBe(0);
    expect(result.stuck).toBe(0);
    // 8 callers at ~5 ms each for 300 ms: at most 480 calls; timers on a busy machine make fewer.
    expect(result.calls).toBeGreaterThan(50);
    expect(result.calls).toBeLessThanOrEqual(8 * (300 / 4));
    // The warmup's calls are issued but not counted.
    expect(seen.issued).toBeGreaterThan(result.calls);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(299);
    expect(result.rate).toBeCloseTo((result.calls * 1000) / result.elapsedMs, 5);
    expect(result.cpuMicrosPerCall).toBeGreaterThan(0);
    // Timers every 5 ms and a few closures per call cost well under 300 ms of CPU for the window.
    expect(result.cpuMicrosPerCall * result.calls).toBeLessThan(300_000 * 1.5);
  });

  it('reports percentiles from the histogram in milliseconds', async () => {
    const { call } = fakeService(20);
    const { latencyMs } = await runLoad(call, { concurrency: 4, warmupMs: 0, durationMs: 300, drainMs: 1000, maxLatencyMs: 1000 });
    expect(latencyMs.p50).toBeGreaterThanOrEqual(19);
    expect(latencyMs.p50).toBeLessThanOrEqual(latencyMs.p90);
    expect(latencyMs.p90).toBeLessThanOrEqual(latencyMs.p99);
    expect(latencyMs.p99).toBeLessThanOrEqual(latencyMs.max);
    expect(latencyMs.max).toBeLessThan(1000);
  });

  it('clamps latencies above maxLatencyMs instead of growing the histogram', async () => {
    const { call } = fakeService(60);
    const { latencyMs, calls } = await runLoad(call, { concurrency: 2, warmupMs: 0, durationMs: 200, drainMs: 1000, maxLatencyMs: 10 });
    expect(calls).toBeGreaterThan(0);
    expect(latencyMs.max).toBeLessThanOrEqual(10.01);
  });

  it('counts failed calls apart and keeps the first error', async () => {
    const { call } = fakeService(2, (n) => n % 2 === 0);
    const result = await runLoad(call, { concurrency: 2, warmupMs: 0, durationMs: 200, drainMs: 1000, maxLatencyMs: 1000 });
    expect(result.errors).toBeGreaterThan(0);
    expect(Math.abs(result.errors - result.calls)).toBeLessThanOrEqual(3);
    expect(String(result.firstError)).toMatch(/fail \d+/);
  });

  it('reports progress on its timer, not per call', async () => {
    const ticks: number[] = [];
    const { call } = fakeService(1);
    const result = await runLoad(call, { concurrency: 4, warmupMs: 0, durationMs: 300, drainMs: 1000, maxLatencyMs: 1000, tickMs: 100, onTick: (p) => ticks.push(p.calls) });
    // two or three timer ticks and the final one, whatever the call count.
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks.length).toBeLessThanOrEqual(4);
    expect(ticks[ticks.length - 1]).toBe(result.calls);
  });

  it('gives up on calls that never settle after drainMs and says how many', async () => {
    let n = 0;
    const call = () => (++n <= 3 ? new Promise<void>((r) => setTimeout(r, 1)) : new Promise<void>(() => undefined));
    const started = Date.now();
    const result = await runLoad(call, { concurrency: 3, warmupMs: 0, durationMs: 100, drainMs: 200, maxLatencyMs: 1000 });
    expect(result.stuck).toBe(3);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('counts a call that throws synchronously as a failure', async () => {
    const result = await runLoad(
      () => {
        throw new Error('sync');
      },
      { concurrency: 1, warmupMs: 0, durationMs: 50, drainMs: 100, maxLatencyMs: 1000 },
    );
    expect(result.calls).toBe(0);
    expect(result.errors).toBeGreaterThan(0);
  });

  it('ends on time when calls settle without any I/O (microtasks only)', async () => {
    const started = Date.now();
    const result = await runLoad(() => Promise.resolve(), { concurrency: 10, warmupMs: 20, durationMs: 100, drainMs: 100, maxLatencyMs: 1000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.calls).toBeGreaterThan(1000);
  });
});

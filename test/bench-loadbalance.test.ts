/**
 * Smoke run of the load-balancer micro-benchmark (built by `npx tsc -b bench`): a few thousand
 * selects per balancer, checking the shape of what it reports — every balancer at every size, the
 * hook column filled exactly for the balancers that have hooks, the table and the JSON. No timing
 * threshold: the machines are shared.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { BALANCERS, formatLoadBalanceReport, runLoadBalanceBench } from '../bench/dist/loadbalance-bench';

const script = path.resolve(__dirname, '..', 'bench', 'dist', 'loadbalance-bench.js');
const HOOKED = ['leastactive', 'shortestresponse', 'p2c'];

describe('load-balancer micro-benchmark', () => {
  it('measures every balancer at 10 and 100 providers', () => {
    const result = runLoadBalanceBench({ iterations: 2000 });
    expect(BALANCERS.map((b) => b.name)).toEqual(['random', 'roundrobin', 'leastactive', 'shortestresponse', 'consistenthash', 'p2c']);
    expect(result.measurements).toHaveLength(12);
    for (const n of [10, 100]) {
      for (const { name } of BALANCERS) {
        const m = result.measurements.find((x) => x.balancer === name && x.providers === n);
        expect(m).toBeDefined();
        expect(Number.isFinite(m!.nsPerSelect)).toBe(true);
        expect(m!.nsPerSelect).toBeGreaterThan(0);
        expect(m!.iterations).toBe(2000);
        if (HOOKED.includes(name)) expect(m!.nsPerSelectWithHooks).toBeGreaterThan(0);
        else expect(m!.nsPerSelectWithHooks).toBeNull();
      }
    }
    const table = formatLoadBalanceReport(result);
    expect(table.split('\n')).toHaveLength(2 + 12);
    expect(table).toMatch(/consistenthash\s+100\s+O\(log n\)\s+\d+\s+-/);
  });

  it('prints JSON with --json and refuses unknown options and balancers with a message', () => {
    const out = execFileSync(process.execPath, [script, '--json', '--iterations', '500', '--providers', '10', '--balancers', 'random,p2c'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    const json = JSON.parse(out) as { node: string; iterations: number; measurements: Array<Record<string, unknown>> };
    expect(json.node).toBe(process.version);
    expect(json.measurements.map((m) => [m.balancer, m.providers])).toEqual([
      ['random', 10],
      ['p2c', 10],
    ]);
    const fail = (args: string[]) => {
      try {
        execFileSync(process.execPath, [script, ...args], { encoding: 'utf8', stdio: 'pipe', timeout: 20_000 });
      } catch (err) {
        return { status: (err as { status: number }).status, stderr: String((err as { stderr: string }).stderr) };
      }
      throw new Error(`expected ${args.join(' ')} to fail`);
    };
    expect(fail(['--fast'])).toEqual({ status: 2, stderr: expect.stringContaining('Unknown option --fast') });
    expect(fail(['--balancers', 'randm'])).toEqual({ status: 2, stderr: expect.stringContaining('Known: random') });
  }, 60_000);
});

import { PlexusError, RpcError, RpcCode } from '@plexus/kernel/spi';
import { CliErrors } from '../src/errors';
import { errorLine, ms, table, toJson } from '../src/format';
import { formatLs } from '../src/commands/ls';
import { formatBench } from '../src/commands/bench';
import { formatRules } from '../src/commands/rule';
import { callFailed } from '../src/commands/call';

describe('errorLine', () => {
  it('prints a coded error as one line with its hint once', () => {
    const line = errorLine(CliErrors.TIMEOUT('the call a.B.c', 500));
    expect(line).toBe('PLEXUS_ERR_CLI_TIMEOUT: the call a.B.c did not finish within 500 ms (check that the provider or registry is reachable, or raise --timeout)');
    expect(line).not.toContain('\n');
  });

  it('folds a many-line message (a config with several problems) into one line', () => {
    const line = errorLine(new PlexusError('PLEXUS_ERR_CONFIG_INVALID', 'The config has 2 problems:\n  a.yaml:1:1 x\n  a.yaml:2:1 y', 'fix them'));
    expect(line).toBe('PLEXUS_ERR_CONFIG_INVALID: The config has 2 problems: a.yaml:1:1 x; a.yaml:2:1 y (fix them)');
  });

  it('names the RpcCode and the framework reason of a failed call, with the hint for that code', () => {
    const err = new RpcError('cannot connect to 127.0.0.1:1', RpcCode.NETWORK, { reason: 'PLEXUS_ERR_PROTOCOL_CONNECT' } as never);
    const line = errorLine(callFailed('a.B.c', err));
    expect(line).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: a\.B\.c failed with NETWORK \(PLEXUS_ERR_PROTOCOL_CONNECT\): cannot connect to 127\.0\.0\.1:1 \(no provider answered/);
    expect(errorLine(callFailed('a.B.c', new RpcError('boom', RpcCode.SERVER_ERROR)))).toMatch(/failed with SERVER_ERROR: boom \(check the interface/);
  });

  it('gives anything else a code too', () => {
    expect(errorLine(new Error('x\ny'))).toBe('PLEXUS_ERR_CLI_UNEXPECTED: x; y');
    expect(errorLine(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBe('ENOENT: gone');
  });
});

describe('toJson', () => {
  it('prints what msgpack may answer: binary as base64, bigints as text, maps as objects, undefined as null', () => {
    expect(toJson({ b: Buffer.from([1, 2, 3]), n: 10n, m: new Map([['k', 1]]), s: new Set([1]) })).toBe('{"b":{"$binary":"AQID"},"n":"10","m":{"k":1},"s":[1]}');
    expect(toJson(undefined)).toBe('null');
    expect(toJson({ a: [1] }, 2)).toBe('{\n  "a": [\n    1\n  ]\n}');
  });
});

describe('tables', () => {
  it('aligns columns under their headers', () => {
    expect(table(['A', 'BB'], [['xxx', 'y'], ['z', 'wwww']]).split('\n')).toEqual(['A    BB', '---  ----', 'xxx  y', 'z    wwww']);
  });

  it('shows each provider of a service with its address, and counts', () => {
    const text = formatLs({
      registries: ['local:///r'],
      services: [
        {
          interface: 'acc.Echo',
          providers: [{ address: 'plexus://127.0.0.1:20880', version: '1.0.0', application: 'p', weight: '100', pid: '7', url: 'u' }],
          consumers: [{ address: 'consumer://10.0.0.1:0', application: 'c', url: 'v' }],
          rules: 2,
        },
        { interface: 'acc.Empty', providers: [], consumers: [], rules: 0 },
      ],
    });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^INTERFACE\s+KIND\s+ADDRESS\s+VERSION/);
    expect(lines[2]).toMatch(/^acc\.Echo \(2 rules\)\s+provider\s+plexus:\/\/127\.0\.0\.1:20880\s+1\.0\.0\s+p\s+100\s+7$/);
    expect(lines[3]).toMatch(/^acc\.Echo\s+consumer\s+consumer:\/\/10\.0\.0\.1:0/);
    expect(lines[4]).toMatch(/^acc\.Empty\s+-\s+\(no providers or consumers\)/);
    expect(lines[5]).toBe('2 service(s), 1 provider(s), 1 consumer(s) in local:///r');
    expect(formatLs({ registries: ['zookeeper://h:1'], services: [] })).toBe('no services in zookeeper://h:1');
  });

  it('prints the bench rate and percentiles', () => {
    const text = formatBench({ interface: 'a.B', method: 'c', concurrency: 10, durationMs: 1000, calls: 5000, errors: 1, rate: 5000, latencyMs: { p50: 0.5, p90: 1.25, p99: 12.5, max: 250, mean: 1 }, stuck: 0, clientCpuMicrosPerCall: 12.5, firstError: 'X: y' });
    expect(text).toBe(
      ['a.B.c: 10 in flight for 1000 ms', 'calls     5000 ok, 1 failed', 'rate      5000 calls/s   (this process: 12.5 µs CPU per call)', 'latency   p50 0.500 ms   p90 1.3 ms   p99 12.5 ms   max 250 ms', 'first error: X: y'].join('\n'),
    );
    expect(ms(0.0841)).toBe('0.084 ms');
  });

  it('describes rules', () => {
    expect(formatRules([])).toBe('no rules');
    const text = formatRules([
      { id: 'r1', kind: 'route', interface: 'a.B', url: 'route://', route: { id: 'r1', router: 'condition', body: 'a => b', priority: 0, force: true, enabled: false } },
      { id: 'o1', kind: 'override', interface: 'a.B', url: 'override://', problem: 'PLEXUS_ERR_RULE_MALFORMED: x', override: { address: '10.0.0.7', enabled: true, disabled: true, service: {}, methods: { m: { timeout: 5 } } } },
    ] as never);
    expect(text).toContain('condition: a => b (force) (disabled)');
    expect(text).toMatch(/o1\s+override\s+at 10\.0\.0\.7 disabled=true m\.timeout=5\s+PLEXUS_ERR_RULE_MALFORMED: x/);
  });
});

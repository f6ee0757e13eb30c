import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Plexus } from '@plexus/kernel';
import { main } from '../src/program';
import { readRuleFile } from '../src/commands/rule';
import { runConfig } from '../src/commands/config';
import type { Io } from '../src/io';

/** Runs the command line in this process and keeps what it printed. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  return runWith(undefined, ...argv);
}

async function runWith(progress: NodeJS.WritableStream | undefined, ...argv: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: (t) => void err.push(t), progress };
  const started = Date.now();
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n'), ms: Date.now() - started };
}

const COMMANDS = ['start', 'call', 'ls', 'bench', 'config', 'rule'];

describe('the command line', () => {
  it('--help lists every command, with examples', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(r.out).toContain('Examples:');
  });

  it.each([...COMMANDS, 'rule set', 'rule ls', 'rule rm'])('%s --help shows examples', async (command) => {
    const r = await run(...command.split(' '), '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Examples?:\n\s+\$ plexus /);
  });

  it('suggests the command meant, in one coded line', async () => {
    const r = await run('cal', 'a.B', 'c');
    expect(r.code).toBe(1);
    expect(r.err).toBe("PLEXUS_ERR_CLI_USAGE: unknown command 'cal' (Did you mean call?) (see plexus --help)");
  });

  it('suggests the option meant', async () => {
    const r = await run('bench', 'a.B', 'c', '--concurency', '5');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_USAGE: unknown option '--concurency' \(Did you mean --concurrency\?\) \(see plexus bench --help\)$/);
  });

  it('refuses a bad number with the option named', async () => {
    const r = await run('bench', 'a.B', 'c', '--url', 'plexus://127.0.0.1:1', '--concurrency', '0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_BAD_OPTION: --concurrency must be between 1 and 10000, not 0 \(see/);
  });

  it('refuses two targets at once', async () => {
    const r = await run('call', 'a.B', 'c', '--url', 'plexus://127.0.0.1:1', '--registry', 'local:///tmp/x');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_BAD_TARGET: --url and --registry were both given/);
  });

  it('names the position of bad JSON arguments', async () => {
    const r = await run('call', 'a.B', 'c', '[40, 2', '--url', 'plexus://127.0.0.1:1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_BAD_ARGS_JSON: .*line 1, column 7 \(offset 6\)/);
  });

  it('--version of call is the service version, not the program version', async () => {
    const r = await run('call', 'a.B', 'c', '[', '--version', '1.0.0', '--url', 'plexus://127.0.0.1:1');
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_BAD_ARGS_JSON/);
    const v = await run('--version');
    expect(v.out).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('against a provider in this process', () => {
  let dir: string;
  let app: Plexus;
  let url: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-cli-unit-'));
    app = Plexus.create({
      application: { name: 'cli-unit-provider', handleSignals: false },
      logLevel: 'warn',
      registry: { type: 'local', dir, snapshot: false },
      protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    });
    app.provide(
      { interface: 'acc.Echo', version: '1.0.0' },
      {
        add: (a: number, b: number) => a + b,
        slow: (ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)),
        fail: () => {
          throw new Error('nope');
        },
        async *count(n: number) {
          for (let i = 0; i < n; i++) yield { i };
        },
        async *dry(n: number) {
          for (let i = 0; i < n; i++) yield i;
          throw new Error('ran dry');
        },
      },
    );
    await app.start();
    const u = app.exportedUrls()[0];
    url = `plexus://127.0.0.1:${u.port}`;
  });

  afterAll(async () => {
    await app?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('calls by --url and by --registry', async () => {
    expect(await run('call', 'acc.Echo', 'add', '[40, 2]', '--url', url, '--version', '1.0.0')).toMatchObject({ code: 0, out: '42' });
    expect(await run('call', 'acc.Echo', 'add', '[40, 2]', '--registry', `local://${dir}`, '--version', '1.0.0')).toMatchObject({ code: 0, out: '42' });
  });

  it('--timeout bounds the call', async () => {
    const r = await run('call', 'acc.Echo', 'slow', '[3000]', '--url', url, '--version', '1.0.0', '--timeout', '300');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Echo\.slow failed with TIMEOUT/);
    expect(r.ms).toBeLessThan(2000);
    expect(await run('call', 'acc.Echo', 'slow', '[50]', '--url', url, '--version', '1.0.0', '--timeout', '2000')).toMatchObject({ code: 0, out: '50' });
  });

  it('prints a streamed answer one JSON line per item; an error after items exits 1 after printing them', async () => {
    const r = await run('call', 'acc.Echo', 'count', '[3]', '--url', url, '--version', '1.0.0');
    expect(r).toMatchObject({ code: 0, out: '{"i":0}\n{"i":1}\n{"i":2}' });
    const dry = await run('call', 'acc.Echo', 'dry', '[2]', '--url', url, '--version', '1.0.0');
    expect(dry.code).toBe(1);
    expect(dry.out).toBe('0\n1');
    expect(dry.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Echo\.dry failed with SERVICE_ERROR: ran dry/);
  });

  it('--version picks the service: another version is not found', async () => {
    const r = await run('call', 'acc.Echo', 'add', '[1, 2]', '--url', url, '--version', '9.9.9');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: .*SERVICE_NOT_FOUND/);
  });

  it('--serializer json is used for the call', async () => {
    expect(await run('call', 'acc.Echo', 'add', '[1, 2]', '--url', url, '--version', '1.0.0', '--serializer', 'json')).toMatchObject({ code: 0, out: '3' });
    const r = await run('call', 'acc.Echo', 'add', '[1, 2]', '--url', url, '--version', '1.0.0', '--serializer', 'jsn');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_\w+: .*jsn.*json/);
  });

  it('a business error exits 1 with its message', async () => {
    const r = await run('call', 'acc.Echo', 'fail', '[]', '--url', url, '--version', '1.0.0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Echo\.fail failed with SERVICE_ERROR: nope \(the implementation threw/);
  });

  it('lists the service and its provider', async () => {
    const r = await run('ls', '--registry', `local://${dir}`, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.services).toEqual([expect.objectContaining({ interface: 'acc.Echo', providers: [expect.objectContaining({ address: url, version: '1.0.0', application: 'cli-unit-provider' })] })]);
    expect(await run('ls', '--url', url)).toMatchObject({ code: 1, err: expect.stringMatching(/^PLEXUS_ERR_CLI_USAGE: unknown option '--url'/) });
  });

  it('bench measures for --duration with --concurrency in flight', async () => {
    const r = await run('bench', 'acc.Echo', 'add', '[1, 2]', '--url', url, '--version', '1.0.0', '--concurrency', '4', '--duration', '400', '--warmup', '100', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report).toMatchObject({ interface: 'acc.Echo', method: 'add', concurrency: 4, errors: 0, stuck: 0 });
    expect(report.durationMs).toBeGreaterThanOrEqual(399);
    expect(report.durationMs).toBeLessThan(1000);
    expect(report.calls).toBeGreaterThan(10);
    expect(report.latencyMs.p99).toBeGreaterThan(0);
    expect(report.latencyMs.p99).toBeLessThanOrEqual(report.latencyMs.max);
  });

  it('bench draws its progress bar on a terminal, a few times a second', async () => {
    const drawn: string[] = [];
    const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    terminal.on('data', (d: Buffer) => drawn.push(d.toString()));
    const r = await runWith(terminal, 'bench', 'acc.Echo', 'add', '[1, 2]', '--url', url, '--version', '1.0.0', '--concurrency', '2', '--duration', '1200', '--warmup', '0');
    expect(r.code).toBe(0);
    const frames = drawn.join('').match(/\d+ calls\/s \| 0 failed/g) ?? [];
    expect(frames.length).toBeGreaterThanOrEqual(2);
    // Redrawn on a 250 ms timer (and by cli-progress's own throttle), never per call.
    expect(frames.length).toBeLessThan(50);
    expect(JSON.parse((await run('bench', 'acc.Echo', 'add', '[1, 2]', '--url', url, '--version', '1.0.0', '--concurrency', '2', '--duration', '300', '--warmup', '0', '--json')).out).calls).toBeGreaterThan(0);
  });

  it('call and ls read the registry of --config', async () => {
    const file = path.join(dir, 'consumer.yaml');
    fs.writeFileSync(file, `application: { name: cli-unit-consumer }\nregistry: { type: local, dir: ${dir}, snapshot: false }\n`);
    expect(await run('call', 'acc.Echo', 'add', '[2, 3]', '--config', file, '--version', '1.0.0')).toMatchObject({ code: 0, out: '5' });
    expect(JSON.parse((await run('ls', '--config', file, '--json')).out).services[0].providers[0].address).toBe(url);
    expect(await run('call', 'acc.Echo', 'add', '[2, 3]', '--config', path.join(dir, 'nope.yaml'))).toMatchObject({ code: 1, err: expect.stringMatching(/^PLEXUS_ERR_CLI_BAD_TARGET: --config .*no such file/) });
  });

  it('bench refuses to start when the first call fails', async () => {
    const r = await run('bench', 'acc.Echo', 'nothing', '[]', '--url', url, '--version', '1.0.0', '--duration', '400');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Echo\.nothing failed with METHOD_NOT_FOUND/);
  });

  it('rule set, ls and rm go through the registry', async () => {
    const file = path.join(dir, 'rules.yaml');
    fs.writeFileSync(file, 'overrides:\n  - { id: slow-day, timeout: 5000 }\nroutes:\n  - { id: r1, router: condition, rule: "method = add => host = 127.0.0.1" }\n');
    const reg = `local://${dir}`;
    expect(await run('rule', 'set', 'acc.Echo', file, '--registry', reg)).toMatchObject({ code: 0, out: 'set route r1 of acc.Echo\nset override slow-day of acc.Echo' });
    const listed = JSON.parse((await run('rule', 'ls', 'acc.Echo', '--registry', reg, '--json')).out);
    expect(listed.map((r: { id: string }) => r.id)).toEqual(['r1', 'slow-day']);
    expect(await run('rule', 'rm', 'acc.Echo', 'slow-day', '--registry', reg)).toMatchObject({ code: 0, out: 'removed slow-day of acc.Echo (1 entry)' });
    expect(await run('rule', 'rm', 'acc.Echo', 'slow-day', '--registry', reg)).toMatchObject({ code: 1, err: expect.stringMatching(/^PLEXUS_ERR_RULE_NOT_FOUND/) });
    expect(await run('rule', 'rm', 'acc.Echo', 'r1', '--registry', reg)).toMatchObject({ code: 0 });
    expect(await run('rule', 'ls', 'acc.Echo', '--registry', reg)).toMatchObject({ code: 0, out: 'no rules' });
  });
});

describe('an unreachable provider or registry', () => {
  it('a provider port nobody listens on fails fast with a coded line', async () => {
    const r = await run('call', 'acc.Echo', 'add', '[1, 2]', '--url', 'plexus://127.0.0.1:1', '--timeout', '2000');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Echo\.add failed with NETWORK/);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.ms).toBeLessThan(3000);
  });

  it('a call through a registry nobody serves fails at its deadline, naming the registry as the cause', async () => {
    const r = await run('call', 'acc.Echo', 'add', '[1, 2]', '--registry', 'redis://127.0.0.1:1', '--timeout', '1000');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_CALL_FAILED: acc\.Echo\.add failed with NO_PROVIDER \(PLEXUS_ERR_APP_REGISTRY_PENDING\): .*\(the registry sent no provider list in time/);
    expect(r.err.split('\n')).toHaveLength(1);
    // the call's 1000 ms, then at most 1000 ms to stop the command's app
    expect(r.ms).toBeLessThan(3500);
  });

  it('a registry nobody serves fails within --timeout', async () => {
    const r = await run('ls', '--registry', 'redis://127.0.0.1:1', '--timeout', '1500');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^PLEXUS_ERR_CLI_(TIMEOUT|REGISTRY): /);
    expect(r.ms).toBeLessThan(4000);
  });
});

describe('rule files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-cli-rules-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('reads routes and overrides, the interface from the command line', () => {
    const f = write('ok.yaml', 'routes:\n  - { router: tag, rule: "x" }\noverrides:\n  - { weight: 0, address: 10.0.0.7 }\n');
    expect(readRuleFile(f, 'a.B')).toEqual({ routes: [{ interface: 'a.B', router: 'tag', rule: 'x' }], overrides: [{ interface: 'a.B', weight: 0, address: '10.0.0.7' }] });
  });

  it('names the file, line and entry of a mistake', () => {
    expect(() => readRuleFile(write('k.yaml', 'rules: []\n'), 'a.B')).toThrow(/PLEXUS_ERR_CLI_RULE_FILE|unknown top-level key\(s\) "rules"/);
    expect(() => readRuleFile(write('i.yaml', 'overrides:\n  - { weight: 1 }\n  - { interface: c.D, weight: 1 }\n'), 'a.B')).toThrow(/i\.yaml:3 overrides\[1\]: names interface "c\.D"/);
    expect(() => readRuleFile(write('e.yaml', 'routes: []\n'), 'a.B')).toThrow(/holds no rules/);
    expect(() => readRuleFile(write('s.yaml', 'routes: x\n'), 'a.B')).toThrow(/routes must be a list/);
  });
});

describe('config --explain', () => {
  it('names the source of every value: default, file:line:column, PLEXUS_* variable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-cli-config-'));
    try {
      const file = path.join(dir, 'p.yaml');
      fs.writeFileSync(file, 'application: { name: explained }\nprotocol:\n  name: plexus\n  port: 20999\n');
      const lines = runConfig(file, { explain: true }, { PLEXUS_CONSUMER_TIMEOUT: '250' }).split('\n');
      expect(lines[0]).toBe(`# ${file}`);
      expect(lines).toContainEqual(expect.stringMatching(/^application\.name = "explained" \(file \S*p\.yaml:1:\d+\)$/));
      expect(lines).toContainEqual(expect.stringMatching(/^protocols\[0\]\.port = 20999 \(file \S*p\.yaml:4:\d+\)$/));
      expect(lines).toContain('consumer.timeout = 250 (env PLEXUS_CONSUMER_TIMEOUT)');
      expect(lines).toContain('consumer.retries = 2 (default)');
      const plain = JSON.parse(runConfig(file, {}, {}));
      expect(plain.consumer.timeout).toBe(1000);
      expect(plain.sources).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

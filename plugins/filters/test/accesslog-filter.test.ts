import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RpcCode, RpcError, RpcInvocation, type MethodSettings } from '@plexus/kernel/spi';
import { FakeInvoker, MemoryLogger, filterContract, methodSettings, rejectionOf, waitFor } from '@plexus/kernel/testing';
import plugin, { AccessLogFile, AccessLogFilter } from '../src/accesslog-filter';

const invocationOf = (settings: MethodSettings, remoteAddress?: string) =>
  new RpcInvocation({ service: 'demo.Greeter', version: '1.0.0', method: 'sayHello', args: ['ada'], attachments: {}, settings, remoteAddress });
const provider = new FakeInvoker('plexus://10.0.0.7:20880/demo.Greeter', { value: 'hi' });
const LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z (consumer|provider) demo\.Greeter:1\.0\.0 sayHello (provider|caller)=\S+ \d+\.\dms [A-Z_]+$/;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-accesslog-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

filterContract('accesslog', () => new AccessLogFilter(new MemoryLogger()), { invocation: { settings: { params: { accesslog: 'true' } } } });

describe('accesslog', () => {
  it('accesslog: true writes one line per call through the logger: time, side, service, method, provider, duration, code', async () => {
    const logger = new MemoryLogger();
    const filter = new AccessLogFilter(logger);
    const s = methodSettings({ params: { accesslog: 'true' } });
    await filter.invoke(provider, invocationOf(s));
    await rejectionOf(filter.invoke(new FakeInvoker('plexus://10.0.0.8:1/demo.Greeter', { error: new RpcError('late', RpcCode.TIMEOUT) }), invocationOf(s)));
    const lines = logger.entries.filter((e) => e.fields?.accesslog).map((e) => e.message);
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(LINE);
    expect(lines[0]).toContain(' consumer demo.Greeter:1.0.0 sayHello provider=10.0.0.7:20880 ');
    expect(lines[0].endsWith(' OK')).toBe(true);
    expect(lines[1]).toContain('provider=10.0.0.8:1');
    expect(lines[1].endsWith(' TIMEOUT')).toBe(true);
  });

  it('on the provider side names the caller', async () => {
    const logger = new MemoryLogger();
    const filter = new AccessLogFilter(logger);
    await filter.invoke(provider, invocationOf(methodSettings({ params: { accesslog: 'true' } }), '192.168.1.9:53211'));
    expect(logger.entries[0].message).toMatch(LINE);
    expect(logger.entries[0].message).toContain(' provider demo.Greeter:1.0.0 sayHello caller=192.168.1.9:53211 ');
  });

  it('filter: [accesslog] without the key logs through the logger; accesslog: false or -accesslog keeps it quiet', async () => {
    const logger = new MemoryLogger();
    const filter = new AccessLogFilter(logger);
    await filter.invoke(provider, invocationOf(methodSettings({ params: { filter: 'metrics,accesslog' } })));
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0].message).toMatch(LINE);
    await filter.invoke(provider, invocationOf(methodSettings({ params: { filter: 'accesslog', accesslog: 'false' } })));
    await filter.invoke(provider, invocationOf(methodSettings({ params: { filter: '-accesslog' } })));
    expect(logger.entries).toHaveLength(1);
  });

  it('is silent for methods without the key or with false', async () => {
    const logger = new MemoryLogger();
    const filter = new AccessLogFilter(logger);
    await filter.invoke(provider, invocationOf(methodSettings()));
    await filter.invoke(provider, invocationOf(methodSettings({ params: { accesslog: 'false' } })));
    expect(logger.entries).toHaveLength(0);
  });

  it('a path appends to that file (relative to the config folder), shared by filters, flushed on close', async () => {
    const logger = new MemoryLogger();
    const a = new AccessLogFilter(logger, dir);
    const b = new AccessLogFilter(logger, dir);
    const s = methodSettings({ params: { accesslog: 'access.log' } });
    for (let i = 0; i < 5; i++) await a.invoke(provider, invocationOf(s));
    for (let i = 0; i < 3; i++) await b.invoke(provider, invocationOf(s, '127.0.0.1:4000'));
    await a.close();
    await b.close();
    const lines = fs.readFileSync(path.join(dir, 'access.log'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(l).toMatch(LINE);
    expect(lines.filter((l) => l.includes(' provider demo.'))).toHaveLength(3);
    expect(logger.entries).toHaveLength(0);
  });

  it('lines reach the file within flushMs while the filter stays open', async () => {
    const filter = new AccessLogFilter(new MemoryLogger(), dir, { maxBufferBytes: 1 << 20, flushMs: 20, warnEveryMs: 1000 });
    const s = methodSettings({ params: { accesslog: 'live.log' } });
    await filter.invoke(provider, invocationOf(s));
    const file = path.join(dir, 'live.log');
    await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').endsWith(' OK\n'), 2000, 'the line on disk');
    await filter.close();
  });

  it('past maxBufferBytes lines are dropped, counted and reported with a code, and the calls are not held up', async () => {
    const logger = new MemoryLogger();
    const f = new AccessLogFile(path.join(dir, 'small.log'), logger, { maxBufferBytes: 1000, flushMs: 10_000, warnEveryMs: 60_000 });
    const text = 'x'.repeat(99);
    for (let i = 0; i < 30; i++) f.write(text); // 100 bytes each: 10 fit
    expect(f.dropped).toBe(20);
    const warns = logger.entries.filter((e) => e.level === 'warn');
    expect(warns).toHaveLength(1); // once per warnEveryMs, not per line
    expect(warns[0].fields?.code).toBe('PLEXUS_ERR_ACCESSLOG_DROPPED');
    await f.close();
    expect(fs.readFileSync(path.join(dir, 'small.log'), 'utf8').split('\n').filter(Boolean)).toHaveLength(10);
    expect(logger.entries.filter((e) => e.level === 'warn').at(-1)!.message).toContain('20 in all');
  });

  it('a file that cannot be written is reported once with a code; its lines are dropped, calls go on', async () => {
    const logger = new MemoryLogger();
    const filter = new AccessLogFilter(logger, dir, { maxBufferBytes: 1 << 20, flushMs: 5, warnEveryMs: 0 });
    const s = methodSettings({ params: { accesslog: 'missing-folder/access.log' } });
    for (let i = 0; i < 3; i++) await expect(filter.invoke(provider, invocationOf(s))).resolves.toEqual({ value: 'hi' });
    await waitFor(() => logger.entries.some((e) => e.fields?.code === 'PLEXUS_ERR_ACCESSLOG_FILE'), 2000, 'the file error');
    await filter.invoke(provider, invocationOf(s));
    expect(logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_ACCESSLOG_FILE')).toHaveLength(1);
    expect(logger.entries.some((e) => e.fields?.code === 'PLEXUS_ERR_ACCESSLOG_DROPPED')).toBe(true);
    await filter.close();
  });

  it('declares the key and both sides, outermost, at the consumer invoker stage', () => {
    const def = plugin.extensions[0];
    expect(def.keys).toEqual(['accesslog']);
    expect(def.activate).toMatchObject({ side: ['consumer', 'provider'], stage: 'invoker' });
  });
});

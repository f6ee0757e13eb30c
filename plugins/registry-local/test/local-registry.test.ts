import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PlexusError, URL, type NotifyListener, type RegistryState } from '@plexus/kernel/spi';
import { fakeExtensionContext, waitFor } from '@plexus/kernel/testing';
import plugin, { LocalRegistry, LOCAL_REGISTRY_DEFAULTS } from '../src';
import { hashOf, TEMP_MAX_AGE_MS } from '../src/entry-files';
import { RecordingLogger, removeTempDirs, tempDir } from './support';

const open: LocalRegistry[] = [];
let serial = 0;

afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

afterAll(() => removeTempDirs());

function registry(options: ConstructorParameters<typeof LocalRegistry>[0]): LocalRegistry {
  const r = new LocalRegistry(options);
  open.push(r);
  return r;
}

function iface(): string {
  return `plexus.unit.Service${process.pid}x${++serial}`;
}

function provider(path: string, n: number, params: Record<string, string> = {}): URL {
  return new URL('plexus', `10.0.0.${n}`, 20880, path, { side: 'provider', ...params });
}

function consumerOf(path: string, params: Record<string, string> = {}): URL {
  return new URL('consumer', '10.0.0.200', 0, path, { side: 'consumer', ...params });
}

function route(path: string, rule: string): URL {
  return new URL('route', '0.0.0.0', 0, path, { category: 'routers', rule });
}

function recorder(): { listener: NotifyListener; lists: string[][]; latest: () => string[] | undefined } {
  const lists: string[][] = [];
  return { listener: (urls) => void lists.push(urls.map(String)), lists, latest: () => lists[lists.length - 1] };
}

function folderOf(dir: string, name: string, category: string): string {
  return path.join(dir, 'plexus', encodeURIComponent(name), category);
}

function leaseFiles(dir: string): string[] {
  const folder = path.join(dir, 'plexus', '.leases');
  return fs.existsSync(folder) ? fs.readdirSync(folder).map((f) => path.join(folder, f)) : [];
}

function codeOf(err: unknown): string | undefined {
  return PlexusError.is(err) ? err.code : undefined;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('layout on disk', () => {
  it('writes one small JSON file per entry, named by the hash of its URL, under <dir>/<root>/<interface>/<category>', async () => {
    const dir = tempDir();
    const name = iface();
    const r = registry({ dir, root: 'apps/blue' });
    const long = provider(name, 1, { methods: Array.from({ length: 60 }, (_, i) => `method${i}WithALongName`).join(',') });
    expect(encodeURIComponent(long.toString()).length).toBeGreaterThan(255);
    await r.register(long);
    await r.register(route(name, 'a'));
    const providers = path.join(dir, 'apps', 'blue', encodeURIComponent(name), 'providers');
    const [file] = fs.readdirSync(providers);
    expect(file).toMatch(new RegExp(`^${hashOf(long.toString())}\\.[0-9a-f]{16}\\.json$`));
    const record = JSON.parse(fs.readFileSync(path.join(providers, file), 'utf8'));
    expect(record).toMatchObject({ url: long.toString(), pid: process.pid, host: os.hostname(), ttl: 3000 });
    expect(record.lease).toBe(file.split('.')[1]);
    const routers = path.join(dir, 'apps', 'blue', encodeURIComponent(name), 'routers');
    expect(fs.readdirSync(routers)).toEqual([`${hashOf(route(name, 'a').toString())}.json`]);
    expect(JSON.parse(fs.readFileSync(path.join(routers, fs.readdirSync(routers)[0]), 'utf8')).lease).toBeUndefined();
    expect(leaseFiles(path.join(dir, 'apps', 'blue', '..', '..'))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'apps', 'blue', '.leases'))).toEqual([`${record.lease}.json`]);
  });

  it('interface names cannot leave their folder: ".." and ".leases" are escaped', async () => {
    const dir = tempDir();
    const r = registry({ dir });
    for (const name of ['..', '.leases', 'a/../../b']) await r.register(provider(name, 1));
    const top = fs.readdirSync(path.join(dir, 'plexus')).sort();
    expect(top).toEqual(['%2E.', '%2Eleases', '.leases', 'a%2F..%2F..%2Fb'].sort());
    expect(fs.readdirSync(dir)).toEqual(['plexus']);
    expect(await r.services()).toEqual(['..', '.leases', 'a/../../b'].sort());
    expect((await r.lookup(consumerOf('..'))).map((u) => u.path)).toEqual(['..']);
  });

  it('an interface name too long for a folder name is a coded error', async () => {
    const r = registry({ dir: tempDir() });
    const err = await rejection(r.register(provider('x'.repeat(300), 1)));
    expect(codeOf(err)).toBe('PLEXUS_ERR_LOCAL_REGISTRY_TOO_LARGE');
  });

  it('a temp file left by a writer that died is swept once it is old', async () => {
    const dir = tempDir();
    const name = iface();
    const r = registry({ dir, pollInterval: 20 });
    await r.register(provider(name, 1));
    const folder = folderOf(dir, name, 'providers');
    const stale = path.join(folder, '.dead.json.123.abcd.tmp');
    const fresh = path.join(folder, '.busy.json.124.abcd.tmp');
    fs.writeFileSync(stale, '{"half');
    fs.writeFileSync(fresh, '{"half');
    const old = new Date(Date.now() - TEMP_MAX_AGE_MS - 5000);
    fs.utimesSync(stale, old, old);
    const seen = recorder();
    await r.subscribe(consumerOf(name), seen.listener);
    await waitFor(() => !fs.existsSync(stale), 2000, 'the stale temp file to go');
    expect(fs.existsSync(fresh)).toBe(true);
    expect(seen.latest()).toEqual([provider(name, 1).toString()]);
  });
});

describe('garbage in the folder', () => {
  it('skips every kind of garbage with one warning each, never crashing or hanging; a fixed file is read again', async () => {
    const dir = tempDir();
    const name = iface();
    const logger = new RecordingLogger();
    const writer = registry({ dir });
    const good = provider(name, 1);
    await writer.register(good);
    const providers = folderOf(dir, name, 'providers');
    const routers = folderOf(dir, name, 'routers');
    fs.mkdirSync(routers, { recursive: true });
    const lease = '0123456789abcdef';
    const at = (folder: string, url: string, ephemeral = true) => path.join(folder, ephemeral ? `${hashOf(url)}.${lease}.json` : `${hashOf(url)}.json`);
    const record = (url: string, extra: Record<string, unknown> = {}) => JSON.stringify({ url, pid: process.pid, host: os.hostname(), lease, ttl: 3000, createdAt: 1, ...extra });
    const u = (n: number) => provider(name, 100 + n).toString();
    const garbage: Record<string, () => void> = {
      'not JSON': () => fs.writeFileSync(at(providers, u(1)), '{"url": "plex'),
      'over the size limit': () => fs.writeFileSync(at(providers, u(2)), record(u(2), { pad: 'x'.repeat(70 * 1024) })),
      'a URL that does not parse': () => fs.writeFileSync(at(providers, 'not a url'), record('not a url')),
      'a name that is not its URL\'s hash': () => fs.writeFileSync(at(providers, u(3)), record(u(4))),
      'a URL of another interface': () => fs.writeFileSync(at(providers, provider('other.Api', 5).toString()), record(provider('other.Api', 5).toString())),
      'a FIFO': () => execFileSync('mkfifo', [at(providers, u(6))]),
      'a directory': () => fs.mkdirSync(at(providers, u(7))),
      'a symbolic link': () => fs.symlinkSync('/dev/zero', at(providers, u(8))),
      'a bad pid': () => fs.writeFileSync(at(providers, u(9)), record(u(9), { pid: -1 })),
      'a JSON array': () => fs.writeFileSync(at(providers, u(10)), '[1, 2, 3]'),
      'a foreign name': () => fs.writeFileSync(path.join(providers, 'README.txt'), 'hello'),
      'a lease that does not match its name': () => fs.writeFileSync(at(providers, u(11)), record(u(11), { lease: 'ffffffffffffffff' })),
      'a router with a lease': () => fs.writeFileSync(at(routers, route(name, 'x').toString()), record(route(name, 'x').toString())),
      'a router that is not JSON': () => fs.writeFileSync(at(routers, route(name, 'fixed').toString(), false), 'garbage'),
    };
    for (const make of Object.values(garbage)) make();
    const reader = registry({ dir, logger, pollInterval: 20 });
    const seen = recorder();
    await reader.subscribe(consumerOf(name, { category: 'providers,routers' }), seen.listener);
    await waitFor(() => seen.latest() !== undefined, 5000, 'the first list');
    expect(seen.latest()).toEqual([good.toString()]);
    // Many polls later: still one warning per file, each naming it.
    await sleep(300);
    expect(await reader.lookup(consumerOf(name, { category: 'providers,routers' }))).toHaveLength(1);
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(Object.keys(garbage).length);
    const files = warnings.map((w) => path.basename(String(w.fields?.file))).sort();
    expect(new Set(files).size).toBe(files.length);
    expect(warnings.some((w) => /over the limit/.test(w.message))).toBe(true);
    expect(warnings.some((w) => /symbolic link/.test(w.message))).toBe(true);
    expect(warnings.some((w) => /not a regular file/.test(w.message))).toBe(true);
    // An operator fixes the rule file: the reader picks it up without another warning.
    fs.writeFileSync(at(routers, route(name, 'fixed').toString(), false), JSON.stringify({ url: route(name, 'fixed').toString(), pid: 1, host: 'ops', createdAt: 1 }));
    await waitFor(() => seen.latest()?.length === 2, 5000, 'the fixed rule');
    expect(seen.latest()).toContain(route(name, 'fixed').toString());
    expect(logger.warnings).toHaveLength(Object.keys(garbage).length);
  });

  it('maxEntrySize: register rejects an entry over it, and a reader with a smaller limit skips a larger file', async () => {
    const dir = tempDir();
    const name = iface();
    const small = registry({ dir, maxEntrySize: 512 });
    const big = provider(name, 1, { pad: 'x'.repeat(600) });
    expect(codeOf(await rejection(small.register(big)))).toBe('PLEXUS_ERR_LOCAL_REGISTRY_TOO_LARGE');
    expect(codeOf(await rejection(small.register(route(name, 'x'.repeat(600)))))).toBe('PLEXUS_ERR_LOCAL_REGISTRY_TOO_LARGE');
    expect(fs.existsSync(folderOf(dir, name, 'providers'))).toBe(false);
    const writer = registry({ dir });
    await writer.register(big);
    await writer.register(provider(name, 2));
    const logger = new RecordingLogger();
    const reader = registry({ dir, maxEntrySize: 512, logger });
    expect((await reader.lookup(consumerOf(name))).map(String)).toEqual([provider(name, 2).toString()]);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/over the limit of 512/);
    expect((await writer.lookup(consumerOf(name))).length).toBe(2);
  });
});

describe('leases', () => {
  it('heartbeat: the lease file is renewed every heartbeat', async () => {
    const dir = tempDir();
    const r = registry({ dir, heartbeat: 50 });
    await r.register(provider(iface(), 1));
    const [lease] = leaseFiles(dir);
    const first = fs.statSync(lease).mtimeMs;
    await waitFor(() => fs.statSync(lease).mtimeMs > first, 2000, 'a renewal');
    const renewals: number[] = [];
    let last = fs.statSync(lease).mtimeMs;
    const end = Date.now() + 600;
    while (Date.now() < end) {
      await sleep(10);
      const m = fs.statSync(lease).mtimeMs;
      if (m !== last) renewals.push(m - last);
      last = m;
    }
    // About 12 renewals in 600 ms; allow a loaded machine to miss many.
    expect(renewals.length).toBeGreaterThanOrEqual(4);
    expect(median(renewals)).toBeLessThan(200);
  });

  it('ttl: an entry whose lease was not renewed for ttl is gone and removed by whoever notices, even with a live pid', async () => {
    const dir = tempDir();
    const name = iface();
    // Written as if by a process of another host that stopped renewing (its pid cannot be checked).
    const lease = 'aaaaaaaaaaaaaaaa';
    const url = provider(name, 1).toString();
    const folder = folderOf(dir, name, 'providers');
    fs.mkdirSync(folder, { recursive: true });
    fs.mkdirSync(path.join(dir, 'plexus', '.leases'), { recursive: true });
    const leaseFile = path.join(dir, 'plexus', '.leases', `${lease}.json`);
    fs.writeFileSync(leaseFile, '{}');
    const entry = path.join(folder, `${hashOf(url)}.${lease}.json`);
    fs.writeFileSync(entry, JSON.stringify({ url, pid: process.pid, host: 'elsewhere', lease, ttl: 400, createdAt: Date.now() }));
    const r = registry({ dir, pollInterval: 20 });
    const seen = recorder();
    const start = Date.now();
    await r.subscribe(consumerOf(name), seen.listener);
    await waitFor(() => seen.latest()?.length === 1, 2000, 'the entry while its lease holds');
    await waitFor(() => seen.latest()?.length === 0, 5000, 'the entry to lapse');
    expect(Date.now() - start).toBeGreaterThanOrEqual(350);
    expect(fs.existsSync(entry)).toBe(false);
    expect(fs.existsSync(leaseFile)).toBe(false);
  });

  it('an entry whose lease file is missing is gone; a dead pid of this host is gone at once; rules never expire', async () => {
    const dir = tempDir();
    const name = iface();
    const folder = folderOf(dir, name, 'providers');
    const routers = folderOf(dir, name, 'routers');
    fs.mkdirSync(folder, { recursive: true });
    fs.mkdirSync(routers, { recursive: true });
    const leases = path.join(dir, 'plexus', '.leases');
    fs.mkdirSync(leases, { recursive: true });
    // A pid that surely is dead: a child that already exited.
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
    const write = (url: string, lease: string, extra: Record<string, unknown>) =>
      fs.writeFileSync(path.join(folder, `${hashOf(url)}.${lease}.json`), JSON.stringify({ url, lease, ttl: 3_600_000, createdAt: 1, ...extra }));
    write(provider(name, 1).toString(), 'bbbbbbbbbbbbbbbb', { pid: process.pid, host: os.hostname() });
    fs.writeFileSync(path.join(leases, 'cccccccccccccccc.json'), '{}');
    write(provider(name, 2).toString(), 'cccccccccccccccc', { pid: dead, host: os.hostname(), pidns: fs.readlinkSync('/proc/self/ns/pid') });
    fs.writeFileSync(path.join(leases, 'dddddddddddddddd.json'), '{}');
    write(provider(name, 3).toString(), 'dddddddddddddddd', { pid: process.pid, host: os.hostname(), pidns: fs.readlinkSync('/proc/self/ns/pid') });
    const rule = route(name, 'kept').toString();
    fs.writeFileSync(path.join(routers, `${hashOf(rule)}.json`), JSON.stringify({ url: rule, pid: dead, host: os.hostname(), createdAt: 1 }));
    const r = registry({ dir });
    expect((await r.lookup(consumerOf(name, { category: 'providers,routers' }))).map(String)).toEqual([provider(name, 3).toString(), rule]);
    expect(fs.readdirSync(folder)).toHaveLength(1);
    expect(fs.existsSync(path.join(leases, 'cccccccccccccccc.json'))).toBe(false);
    expect(fs.existsSync(path.join(leases, 'dddddddddddddddd.json'))).toBe(true);
  });

  it('a lease removed by another process (this one stalled): the entries come back under a new lease, reported as reconnected', async () => {
    const dir = tempDir();
    const name = iface();
    const logger = new RecordingLogger();
    const r = registry({ dir, heartbeat: 50, logger });
    const states: RegistryState[] = [];
    r.onStateChange((s) => states.push(s));
    await r.register(provider(name, 1));
    const [lease] = leaseFiles(dir);
    const folder = folderOf(dir, name, 'providers');
    const [entry] = fs.readdirSync(folder);
    fs.unlinkSync(lease);
    fs.unlinkSync(path.join(folder, entry));
    await waitFor(() => states.includes('reconnected'), 3000, 'reconnected');
    const [renewed] = leaseFiles(dir);
    expect(renewed).not.toBe(lease);
    expect(fs.readdirSync(folder)).toEqual([`${hashOf(provider(name, 1).toString())}.${path.basename(renewed, '.json')}.json`]);
    expect(states).toEqual(['reconnected']);
    expect(logger.warnings.some((w) => /lease was removed/.test(w))).toBe(true);
  });

  it('an entry file removed by someone else is written back within a heartbeat', async () => {
    const dir = tempDir();
    const name = iface();
    const r = registry({ dir, heartbeat: 50 });
    const states: RegistryState[] = [];
    r.onStateChange((s) => states.push(s));
    await r.register(provider(name, 1));
    const folder = folderOf(dir, name, 'providers');
    const [entry] = fs.readdirSync(folder);
    fs.unlinkSync(path.join(folder, entry));
    await waitFor(() => fs.existsSync(path.join(folder, entry)), 2000, 'the entry to be written back');
    expect(states).toEqual([]);
  });

  /** Swaps the lease file atomically for a symbolic link to itself: renewals fail with ELOOP until it is put back. */
  async function outage(dir: string, ms: number): Promise<void> {
    const [lease] = leaseFiles(dir);
    const loop = `${lease}.loop`;
    fs.symlinkSync(path.basename(lease), loop);
    const saved = fs.readFileSync(lease);
    fs.renameSync(loop, lease);
    await sleep(ms);
    fs.writeFileSync(`${lease}.back`, saved);
    fs.renameSync(`${lease}.back`, lease);
  }

  it('a renewal that fails reports disconnected; back within ttl it reports connected', async () => {
    const dir = tempDir();
    const logger = new RecordingLogger();
    const r = registry({ dir, heartbeat: 50, ttl: 10_000, logger });
    const states: RegistryState[] = [];
    r.onStateChange((s) => states.push(s));
    await r.register(provider(iface(), 1));
    await outage(dir, 300);
    await waitFor(() => states.length >= 2, 3000, 'two state changes');
    expect(states).toEqual(['disconnected', 'connected']);
    expect(logger.warnings.some((w) => /cannot renew/.test(w))).toBe(true);
  });

  it('a renewal outage longer than ttl reports reconnected when it ends', async () => {
    const dir = tempDir();
    const r = registry({ dir, heartbeat: 50, ttl: 150, logger: new RecordingLogger() });
    const states: RegistryState[] = [];
    r.onStateChange((s) => states.push(s));
    await r.register(provider(iface(), 1));
    await outage(dir, 500);
    await waitFor(() => states.length >= 2, 3000, 'two state changes');
    expect(states).toEqual(['disconnected', 'reconnected']);
  });
});

describe('subscriptions and reads', () => {
  it('subscribing again with the same URL and listener hands over the current list once, without doubling later notices', async () => {
    const dir = tempDir();
    const name = iface();
    const r = registry({ dir });
    const seen = recorder();
    await r.subscribe(consumerOf(name), seen.listener);
    await waitFor(() => seen.lists.length === 1, 2000, 'the first list');
    await r.subscribe(consumerOf(name), seen.listener);
    await waitFor(() => seen.lists.length === 2, 2000, 'the list again');
    expect(seen.lists[1]).toEqual([]);
    await r.register(provider(name, 1));
    await waitFor(() => seen.lists.length === 3, 2000, 'the new provider');
    await sleep(100);
    expect(seen.lists).toHaveLength(3);
  });

  it('a subscriber of several categories hears them all at once, never a part', async () => {
    const dir = tempDir();
    const name = iface();
    const writer = registry({ dir });
    for (let n = 1; n <= 20; n++) await writer.register(provider(name, n));
    for (let n = 1; n <= 20; n++) await writer.register(route(name, `r${n}`));
    for (let round = 0; round < 5; round++) {
      const reader = registry({ dir });
      const seen = recorder();
      await reader.subscribe(consumerOf(name, { category: 'routers,providers,configurators' }), seen.listener);
      await waitFor(() => seen.lists.length > 0, 2000, 'the first list');
      await sleep(20);
      expect(seen.lists.map((l) => l.length)).toEqual([40]);
      await reader.close();
    }
  });

  it('a listener that throws is logged; the others keep hearing', async () => {
    const dir = tempDir();
    const name = iface();
    const logger = new RecordingLogger();
    const r = registry({ dir, logger });
    const seen = recorder();
    await r.subscribe(consumerOf(name), () => {
      throw new Error('listener bug');
    });
    await r.subscribe(consumerOf(name, { tag: 'b' }), seen.listener);
    await r.register(provider(name, 1));
    await waitFor(() => seen.latest()?.length === 1, 2000, 'the provider');
    expect(logger.errors.some((e) => /listener bug/.test(e))).toBe(true);
  });

  it('a listener is called only when its list changed (lease renewals wake nobody)', async () => {
    const dir = tempDir();
    const name = iface();
    const writer = registry({ dir, heartbeat: 20 });
    await writer.register(provider(name, 1));
    const r = registry({ dir, pollInterval: 20 });
    const seen = recorder();
    await r.subscribe(consumerOf(name), seen.listener);
    await sleep(400);
    expect(seen.lists).toEqual([[provider(name, 1).toString()]]);
  });

  it('a watched folder removed and made again is watched again (polling notices, then fs.watch is back)', async () => {
    const dir = tempDir();
    const name = iface();
    const pollInterval = 1000;
    const r = registry({ dir, pollInterval });
    const seen = recorder();
    await r.subscribe(consumerOf(name), seen.listener);
    const writer = registry({ dir, heartbeat: 100 });
    await writer.register(provider(name, 1));
    await waitFor(() => seen.latest()?.length === 1, 2000, 'the provider');
    fs.rmSync(path.join(dir, 'plexus', encodeURIComponent(name)), { recursive: true });
    // The writer's heartbeat puts its entry back into a new folder.
    const folder = folderOf(dir, name, 'providers');
    await waitFor(() => fs.existsSync(folder) && fs.readdirSync(folder).filter((f) => !f.startsWith('.')).length === 1, 5000, 'the entry written back');
    await waitFor(() => seen.latest()?.length === 1, 5000, 'the provider again');
    await sleep(2 * pollInterval);
    const delays: number[] = [];
    for (let n = 2; n <= 6; n++) {
      await sleep(Math.random() * pollInterval);
      const start = Date.now();
      await writer.register(provider(name, n));
      await waitFor(() => seen.latest()?.length === n, 5000, `provider ${n}`);
      delays.push(Date.now() - start);
    }
    // Polling alone would spread these uniformly over 0..1000 ms: five under 150 ms (odds 1 in
    // 13000 by chance) is the watch.
    expect(Math.max(...delays)).toBeLessThan(150);
  });

  it('an unreadable folder is an outage, not an empty list: the last list stands, with one warning', async () => {
    const dir = tempDir();
    const name = iface();
    const logger = new RecordingLogger();
    const writer = registry({ dir, logger });
    await writer.register(provider(name, 1));
    const r = registry({ dir, pollInterval: 20, logger });
    const seen = recorder();
    await r.subscribe(consumerOf(name), seen.listener);
    await waitFor(() => seen.latest()?.length === 1, 2000, 'the provider');
    const base = path.join(dir, 'plexus');
    fs.renameSync(base, `${base}.away`);
    fs.writeFileSync(base, 'in the way');
    await sleep(200);
    expect(seen.lists).toEqual([[provider(name, 1).toString()]]);
    expect(codeOf(await rejection(r.lookup(consumerOf(name))))).toBe('PLEXUS_ERR_LOCAL_REGISTRY_IO');
    expect(logger.warnings.filter((w) => /cannot read/.test(w))).toHaveLength(1);
    fs.rmSync(base);
    fs.renameSync(`${base}.away`, base);
    await writer.register(provider(name, 2));
    await waitFor(() => seen.latest()?.length === 2, 2000, 'the second provider after the outage');
    expect(seen.lists).toHaveLength(2);
  });

  it('services() lists interfaces with a live entry; lookup() reads the categories asked for', async () => {
    const dir = tempDir();
    const [a, b, c] = [iface(), iface(), iface()];
    const r = registry({ dir });
    await r.register(provider(a, 1));
    await r.register(consumerOf(b));
    await r.register(route(c, 'x'));
    const gone = iface();
    await r.register(provider(gone, 1));
    await r.unregister(provider(gone, 1));
    expect(await r.services()).toEqual([a, b, c].sort());
    expect((await r.lookup(consumerOf(b))).map(String)).toEqual([]);
    expect((await r.lookup(consumerOf(b, { category: 'consumers' }))).map(String)).toEqual([consumerOf(b).toString()]);
    expect((await r.lookup(consumerOf(c, { category: 'routers,configurators' }))).map(String)).toEqual([route(c, 'x').toString()]);
  });

  it('rules (routers, configurators) outlive close() and any instance can remove them', async () => {
    const dir = tempDir();
    const name = iface();
    const cli = registry({ dir });
    await cli.register(route(name, 'a'));
    await cli.register(provider(name, 1));
    await cli.close();
    const other = registry({ dir });
    expect((await other.lookup(consumerOf(name, { category: 'providers,routers' }))).map(String)).toEqual([route(name, 'a').toString()]);
    await other.unregister(route(name, 'a'));
    expect(await other.lookup(consumerOf(name, { category: 'routers' }))).toEqual([]);
  });

  it('after close(): register, subscribe and reads reject with a coded error; unregister and unsubscribe resolve', async () => {
    const r = registry({ dir: tempDir() });
    await r.close();
    const name = iface();
    for (const p of [r.register(provider(name, 1)), r.subscribe(consumerOf(name), () => undefined), r.lookup(consumerOf(name)), r.services()]) {
      expect(codeOf(await rejection(p))).toBe('PLEXUS_ERR_LOCAL_REGISTRY_CLOSED');
    }
    await expect(r.unregister(provider(name, 1))).resolves.toBeUndefined();
    await expect(r.unsubscribe(consumerOf(name), () => undefined)).resolves.toBeUndefined();
    await expect(r.close()).resolves.toBeUndefined();
  });

  it('an unwritable folder: register rejects with a coded I/O error and keeps nothing', async () => {
    const dir = tempDir();
    // A file where the registry needs a folder: as root, permissions would not stop a write.
    fs.writeFileSync(path.join(dir, 'plexus'), 'in the way');
    const r = registry({ dir });
    const err = await rejection(r.register(provider(iface(), 1)));
    expect(codeOf(err)).toBe('PLEXUS_ERR_LOCAL_REGISTRY_IO');
    expect((err as Error).message).toMatch(/ENOTDIR|EEXIST/);
    expect(codeOf(await rejection(r.subscribe(consumerOf(iface()), () => undefined)))).toBe('PLEXUS_ERR_LOCAL_REGISTRY_IO');
  });
});

describe('a folder other users can write', () => {
  it('warns once when the folder belongs to another user, or is writable by everyone', async () => {
    if (typeof process.getuid !== 'function') throw new Error('this test needs POSIX uids');
    const name = iface();
    const foreign = tempDir();
    fs.chownSync(foreign, process.getuid() + 4242, process.getgid!());
    const logger = new RecordingLogger();
    const r = registry({ dir: foreign, logger });
    await r.register(route(name, 'a'));
    await r.lookup(consumerOf(name));
    await waitFor(() => logger.warnings.length > 0, 2000, 'the warning');
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/belongs to uid \d+, not to this process/);

    const open = tempDir();
    fs.chmodSync(open, 0o777);
    const logger2 = new RecordingLogger();
    await registry({ dir: open, logger: logger2 }).lookup(consumerOf(name));
    await waitFor(() => logger2.warnings.length > 0, 2000, 'the warning');
    expect(logger2.warnings[0]).toMatch(/writable by every local user/);

    // A sticky world-writable dir (as /tmp) is fine while <dir>/<root> is this user's...
    const sticky = tempDir();
    fs.chmodSync(sticky, 0o1777);
    fs.mkdirSync(path.join(sticky, 'plexus'), { mode: 0o755 });
    const logger3 = new RecordingLogger();
    await registry({ dir: sticky, logger: logger3 }).lookup(consumerOf(name));
    await sleep(50);
    expect(logger3.warnings).toEqual([]);
    // ...and not when another user made <dir>/<root> first.
    fs.chownSync(path.join(sticky, 'plexus'), process.getuid() + 4242, process.getgid!());
    const logger4 = new RecordingLogger();
    await registry({ dir: sticky, logger: logger4 }).lookup(consumerOf(name));
    await waitFor(() => logger4.warnings.length > 0, 2000, 'the warning');
    expect(logger4.warnings[0]).toMatch(/plexus belongs to uid/);
  });
});

describe('options', () => {
  it('defaults: the folder under the OS temp dir, root plexus, ttl three heartbeats', () => {
    const r = new LocalRegistry();
    expect(r.dir).toBe(path.join(os.tmpdir(), 'plexus-registry'));
    expect(r.base).toBe(path.join(os.tmpdir(), 'plexus-registry', 'plexus'));
    expect(r.ttl).toBe(3 * LOCAL_REGISTRY_DEFAULTS.heartbeat);
    expect(new LocalRegistry({ heartbeat: 200 }).ttl).toBe(600);
    expect(r.pollInterval).toBe(500);
    expect(r.watch).toBe(true);
    expect(r.timeout).toBe(5000);
    expect(r.maxEntrySize).toBe(65536);
    expect(r.hostname).toBe(os.hostname());
  });

  it('rejects options that cannot work, with a coded error', () => {
    const bad = (options: ConstructorParameters<typeof LocalRegistry>[0]) => {
      try {
        new LocalRegistry(options);
      } catch (err) {
        return codeOf(err);
      }
      return 'accepted';
    };
    expect(bad({ heartbeat: 1000, ttl: 1000 })).toBe('PLEXUS_ERR_LOCAL_REGISTRY_BAD_OPTIONS');
    expect(bad({ dir: '/tmp/a', address: '/tmp/b' })).toBe('PLEXUS_ERR_LOCAL_REGISTRY_BAD_OPTIONS');
    expect(bad({ dir: '/tmp/a', address: '/tmp/a/' })).toBe('accepted');
    expect(bad({ root: '../up' })).toBe('PLEXUS_ERR_LOCAL_REGISTRY_BAD_OPTIONS');
    expect(bad({ root: '/' })).toBe('PLEXUS_ERR_LOCAL_REGISTRY_BAD_OPTIONS');
    expect(bad({ pollInterval: -5 })).toBe('PLEXUS_ERR_LOCAL_REGISTRY_BAD_OPTIONS');
  });

  it('the plugin: registry "local" built from config options, `address` (from local:///dir) naming the folder', async () => {
    const [extension] = plugin.extensions;
    expect(extension).toMatchObject({ point: 'registry', name: 'local' });
    const dir = tempDir();
    const logger = new RecordingLogger();
    const r = extension.create(fakeExtensionContext({ type: 'local', address: dir, pollInterval: 50, watch: false }, { logger })) as LocalRegistry;
    open.push(r);
    expect(r).toBeInstanceOf(LocalRegistry);
    expect(r.dir).toBe(dir);
    expect(r.pollInterval).toBe(50);
    expect(r.watch).toBe(false);
    const name = iface();
    await r.register(route(name, 'x'));
    expect(fs.existsSync(folderOf(dir, name, 'routers'))).toBe(true);
  });
});

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

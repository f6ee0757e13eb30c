import * as fs from 'node:fs';
import * as path from 'node:path';
import { URL, type NotifyListener } from '@plexus/kernel/spi';
import { waitFor } from '@plexus/kernel/testing';
import { LocalRegistry } from '../src';
import { assertBuilt, Child } from './children';
import { RecordingLogger, removeTempDirs, tempDir } from './support';

/*
 * Real processes sharing one folder: each child loads the built package, registers, and is then
 * killed, closed or made to exit; the test process watches with its own registry instance.
 */

const children: Child[] = [];
const open: LocalRegistry[] = [];
let serial = 0;

beforeAll(() => assertBuilt());

afterEach(async () => {
  for (const c of children.splice(0)) c.kill();
  for (const r of open.splice(0)) await r.close();
});

afterAll(() => removeTempDirs());

function child(fixture: string, arg: unknown): Child {
  const c = new Child(fixture, arg);
  children.push(c);
  return c;
}

function registry(options: ConstructorParameters<typeof LocalRegistry>[0]): LocalRegistry {
  const r = new LocalRegistry(options);
  open.push(r);
  return r;
}

function iface(): string {
  return `plexus.proc.Service${process.pid}x${++serial}`;
}

function provider(path: string, n: number): URL {
  return new URL('plexus', `10.0.0.${n}`, 20880, path, { side: 'provider', application: `app${n}` });
}

function consumerOf(path: string): URL {
  return new URL('consumer', '10.0.0.200', 0, path, { side: 'consumer' });
}

/** A listener that keeps the latest list (as sorted URL strings) and when it arrived. */
function recorder(): { listener: NotifyListener; latest: () => string[] | undefined; count: () => number; at: () => number } {
  let latest: string[] | undefined;
  let count = 0;
  let at = 0;
  return {
    listener: (urls) => {
      latest = urls.map((u) => u.toString()).sort();
      count++;
      at = Date.now();
    },
    latest: () => latest,
    count: () => count,
    at: () => at,
  };
}

/** Every file under `dir`, relative, dot files included. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.relative(dir, path.join(d.parentPath ?? d.path, d.name)));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

describe('local registry across processes', () => {
  it('a SIGKILLed process: its entry is gone as soon as its pid is dead, long before its lease lapses', async () => {
    const dir = tempDir();
    const name = iface();
    const p1 = provider(name, 1);
    // A lease of 60 s: only the pid check can explain a quick removal.
    const c = child('registrar.js', { options: { dir, heartbeat: 5000, ttl: 60_000 }, register: [p1.toString()] });
    await c.next('ready');
    const watcher = registry({ dir, pollInterval: 100 });
    const seen = recorder();
    await watcher.subscribe(consumerOf(name), seen.listener);
    await waitFor(() => seen.latest()?.length === 1, 5000, 'the child\'s provider');
    c.kill('SIGKILL');
    await c.exit();
    const killedAt = Date.now();
    await waitFor(() => seen.latest()?.length === 0, 5000, 'the killed child\'s provider to vanish');
    const took = seen.at() - killedAt;
    console.log(`pid check: entry of a SIGKILLed process gone ${took} ms after its exit (pollInterval 100 ms)`);
    expect(took).toBeLessThan(2000);
    // Whoever noticed removed the entry and the lease from disk.
    await waitFor(() => filesUnder(path.join(dir, 'plexus')).length === 0, 2000, 'the files to be removed');
  });

  it('a SIGKILLed process of another host name: its entry stays until its lease lapses, then is removed', async () => {
    const dir = tempDir();
    const name = iface();
    const ttl = 2000;
    const c = child('registrar.js', { options: { dir, heartbeat: 200, ttl, hostname: 'elsewhere.example' }, register: [provider(name, 1).toString()] });
    await c.next('ready');
    const watcher = registry({ dir, pollInterval: 100 });
    const seen = recorder();
    await watcher.subscribe(consumerOf(name), seen.listener);
    await waitFor(() => seen.latest()?.length === 1, 5000, 'the child\'s provider');
    c.kill('SIGKILL');
    await c.exit();
    const killedAt = Date.now();
    // Its pid is dead, but the pid check does not apply to another host: the lease still holds.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen.latest()).toHaveLength(1);
    await waitFor(() => seen.latest()?.length === 0, 10_000, 'the lease to lapse');
    const took = seen.at() - killedAt;
    console.log(`lease expiry: entry of a SIGKILLed process of another host gone ${took} ms after its exit (ttl ${ttl}, heartbeat 200, pollInterval 100)`);
    // The pid check would have taken about one poll (100 ms); the lease takes about ttl (less the
    // age of the last renewal, which a loaded machine may delay).
    expect(took).toBeGreaterThanOrEqual(ttl / 2);
    await waitFor(() => filesUnder(path.join(dir, 'plexus')).length === 0, 2000, 'the files to be removed');
  });

  it('a process that exits normally after close() leaves nothing behind, and exits by itself', async () => {
    const dir = tempDir();
    const name = iface();
    const c = child('registrar.js', {
      options: { dir },
      register: [provider(name, 1).toString(), consumerOf(name).toString(), new URL('route', '0.0.0.0', 0, `${name}.Other`, { category: 'routers', rule: 'a' }).toString()],
    });
    await c.next('ready');
    const watcher = registry({ dir, pollInterval: 60_000 });
    const seen = recorder();
    await watcher.subscribe(consumerOf(name).withParams({ category: 'providers,consumers' }), seen.listener);
    await waitFor(() => seen.latest()?.length === 2, 5000, 'the provider and the consumer');
    c.send({ close: true });
    await c.next('closed');
    // No timer, watcher or handle of the registry keeps the process alive after close().
    expect(await c.exit(5000)).toEqual({ code: 0, signal: null });
    // fs.watch alone (polling is 60 s here) saw the entries go.
    await waitFor(() => seen.latest()?.length === 0, 5000, 'the entries to vanish');
    const left = filesUnder(path.join(dir, 'plexus'));
    // Only the router, a persistent rule, stays; no provider, consumer, lease or temp file.
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/\/routers\/[0-9a-f]{32}\.json$/);
  });

  it('a process that exits without close(): the exit hook removes its entries and lease', async () => {
    const dir = tempDir();
    const name = iface();
    const c = child('registrar.js', { options: { dir }, register: [provider(name, 1).toString()] });
    await c.next('ready');
    expect(filesUnder(path.join(dir, 'plexus')).length).toBe(2);
    c.send({ exit: true });
    expect(await c.exit(5000)).toEqual({ code: 0, signal: null });
    // Nobody else watches this folder: the process removed its own files on the way out.
    expect(filesUnder(path.join(dir, 'plexus'))).toEqual([]);
  });

  it('an open registry never keeps a process alive: timers and watchers are unref\'d; the exit hook cleans up', async () => {
    const dir = tempDir();
    const name = iface();
    const c = child('registrar.js', { options: { dir, heartbeat: 100, pollInterval: 50 }, register: [provider(name, 1).toString()], subscribe: consumerOf(name).toString() });
    await c.next('ready');
    expect((await c.next('list')).list).toEqual([provider(name, 1).toString()]);
    c.send({ release: true });
    expect(await c.exit(5000)).toEqual({ code: 0, signal: null });
    expect(filesUnder(path.join(dir, 'plexus'))).toEqual([]);
  });

  it('several processes registering and removing in one folder never produce a torn read', async () => {
    const dir = tempDir();
    const name = iface();
    const padding = 20_000;
    const logger = new RecordingLogger();
    const writers = [0, 1, 2, 3].map((index) => child('churn.js', { dir, iface: name, duration: 2500, index, padding }));
    const reader = registry({ dir, logger, pollInterval: 20 });
    const lists: string[][] = [];
    await reader.subscribe(consumerOf(name).withParams({ category: 'providers,routers' }), (urls) => lists.push(urls.map((u) => u.toString())));
    const folders = ['providers', 'routers'].map((c) => path.join(dir, 'plexus', encodeURIComponent(name), c));
    let reads = 0;
    let lookups = 0;
    const torn: string[] = [];
    const running = () => writers.some((w) => w.process.exitCode === null && w.process.signalCode === null);
    while (running()) {
      // Raw reads, as any other tool would do them: every entry file parses or is already gone.
      for (const folder of folders) {
        for (const file of fs.existsSync(folder) ? fs.readdirSync(folder) : []) {
          if (file.startsWith('.')) continue;
          try {
            const text = fs.readFileSync(path.join(folder, file), 'utf8');
            reads++;
            const value = JSON.parse(text) as { url: string };
            if (URL.parse(value.url).params.pad?.length !== padding) torn.push(file);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') torn.push(`${file}: ${(err as Error).message}`);
          }
        }
      }
      const found = await reader.lookup(consumerOf(name).withParams({ category: 'providers,routers' }));
      lookups++;
      for (const u of found) expect(u.params.pad).toHaveLength(padding);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const results = await Promise.all(writers.map(async (w) => ({ exit: await w.exit(10_000), ops: Number((await w.next('ops')).ops) })));
    for (const r of results) {
      expect(r.exit.code).toBe(0);
      expect(r.ops).toBeGreaterThan(20);
    }
    console.log(`concurrent writers: ${results.map((r) => r.ops).join('+')} register/unregister ops by 4 processes; ${reads} raw reads, ${lookups} lookups, ${lists.length} notifications in the reader`);
    expect(torn).toEqual([]);
    expect(reads).toBeGreaterThan(50);
    expect(logger.warnings).toEqual([]);
    for (const list of lists) for (const u of list) expect(URL.parse(u).params.pad).toHaveLength(padding);
    // Each writer closed: its providers are gone; the shared routers end in whatever state was written last.
    await waitFor(() => (lists[lists.length - 1] ?? []).every((u) => u.startsWith('route://')), 5000, 'only routers to remain');
  });

  it('how long a change takes to be noticed: fs.watch, and polling with fs.watch off', async () => {
    const dir = tempDir();
    const samples = 7;
    const c = child('registrar.js', { options: { dir }, register: [] });
    await c.next('ready');

    async function measure(options: { watch: boolean; pollInterval: number }): Promise<number[]> {
      const name = iface();
      const watcher = registry({ dir, ...options });
      const seen = recorder();
      await watcher.subscribe(consumerOf(name), seen.listener);
      await waitFor(() => seen.count() === 1, 5000, 'the first notification');
      const delays: number[] = [];
      for (let n = 1; n <= samples; n++) {
        // Out of step with the poll timer, so the samples spread over its interval.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * options.pollInterval * (options.watch ? 0 : 1)));
        c.send({ register: provider(name, n).toString() });
        const done = await c.next('registered');
        await waitFor(() => seen.latest()?.length === n, 5000, `provider ${n}`);
        delays.push(seen.at() - Number(done.t0));
      }
      return delays;
    }

    // Polling once a minute: only the watch can deliver within the wait.
    const watched = await measure({ watch: true, pollInterval: 60_000 });
    const polled = await measure({ watch: false, pollInterval: 500 });
    console.log(
      `notice latency, from the writer's register() call to the reader's listener, ${samples} samples each:\n` +
        `  fs.watch:                     median ${median(watched)} ms, max ${Math.max(...watched)} ms  [${watched.join(', ')}]\n` +
        `  polling (watch: false, 500 ms): median ${median(polled)} ms, max ${Math.max(...polled)} ms  [${polled.join(', ')}]`,
    );
    // Polling alone would take up to a minute here.
    expect(Math.max(...watched)).toBeLessThan(2000);
    // A change is seen at the next poll: about one interval at most (plus a scan, on a loaded machine).
    expect(Math.max(...polled)).toBeLessThan(500 + 1000);
  });

  it('with fs.watch off nothing but the poll delivers: a change waits for the next poll', async () => {
    const dir = tempDir();
    const name = iface();
    const watcher = registry({ dir, watch: false, pollInterval: 60_000 });
    const seen = recorder();
    await watcher.subscribe(consumerOf(name), seen.listener);
    await waitFor(() => seen.count() === 1, 5000, 'the first notification');
    const c = child('registrar.js', { options: { dir }, register: [provider(name, 1).toString()] });
    await c.next('ready');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(seen.latest()).toEqual([]);
    // A lookup reads the folder now.
    expect((await watcher.lookup(consumerOf(name))).map(String)).toEqual([provider(name, 1).toString()]);
  });

  it('garbage planted while another process watches: it lists the valid entries and warns once per file', async () => {
    const dir = tempDir();
    const name = iface();
    const c = child('registrar.js', { options: { dir, pollInterval: 50 }, register: [], subscribe: consumerOf(name).toString() });
    await c.next('ready');
    expect((await c.next('list')).list).toEqual([]);
    const folder = path.join(dir, 'plexus', encodeURIComponent(name), 'providers');
    fs.writeFileSync(path.join(folder, `${'a'.repeat(32)}.${'b'.repeat(16)}.json`), '{"url": "plexus://torn');
    fs.writeFileSync(path.join(folder, `${'c'.repeat(32)}.${'d'.repeat(16)}.json`), Buffer.alloc(100 * 1024, 0x20));
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'not an entry');
    const writer = registry({ dir });
    await writer.register(provider(name, 1));
    expect((await c.next('list')).list).toEqual([provider(name, 1).toString()]);
    // Several polls later the child is alive, heard nothing more, and warned once per file.
    await new Promise((resolve) => setTimeout(resolve, 400));
    await writer.unregister(provider(name, 1));
    expect((await c.next('list')).list).toEqual([]);
    const warnings = c.stderr.split('\n').filter((l) => l.includes('skipping'));
    expect(warnings).toHaveLength(3);
    for (const file of [`${'a'.repeat(32)}.`, `${'c'.repeat(32)}.`, 'notes.txt']) expect(warnings.filter((w) => w.includes(file))).toHaveLength(1);
  });

  it('a stuck file system: register rejects with a coded timeout instead of hanging', async () => {
    const dir = tempDir();
    const c = child('stuck.js', { dir, fifoDir: tempDir(), timeout: 300 });
    const result = await c.next('outcome', 10_000);
    expect(result).toMatchObject({ outcome: 'rejected', code: 'PLEXUS_ERR_LOCAL_REGISTRY_TIMEOUT' });
    expect(Number(result.ms)).toBeGreaterThanOrEqual(290);
    expect(Number(result.ms)).toBeLessThan(3000);
    expect(await c.exit(10_000)).toEqual({ code: 0, signal: null });
  });
});

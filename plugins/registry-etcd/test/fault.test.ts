import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { PlexusError, URL, type RegistryState } from '@plexus/kernel/spi';
import { registryManagerContract, rejectionOf, waitFor } from '@plexus/kernel/testing';
import { EtcdRegistry } from '../src/etcd-registry';
import { RecordingLogger, removeDir, startEtcd, tempDir, type EtcdServer } from './support/etcd';

/**
 * Faults with a real etcd on 127.0.0.1:23791: the server stopped and started again on the same
 * data dir, started again with a fresh one (everything lost), the lease revoked behind the
 * registry's back, and a provider process killed without unregistering.
 */
const PORT = 23791;
const WAIT = 20_000;

let server: EtcdServer | undefined;
const dirs: string[] = [];
const open: EtcdRegistry[] = [];
let serial = 0;

beforeAll(async () => {
  const dir = tempDir('fault');
  dirs.push(dir);
  server = await startEtcd(PORT, dir);
}, 30_000);

afterAll(async () => {
  for (const r of open) await r.close().catch(() => undefined);
  await server?.stop();
  for (const d of dirs) removeDir(d);
});

function iface(): string {
  serial++;
  return `plexus.fault.Greeter${process.pid}x${serial}`;
}

function provider(path: string, n: number): URL {
  return new URL('plexus', `10.1.0.${n}`, 20880, path, { application: `app${n}`, side: 'provider' });
}

function consumer(path: string): URL {
  return new URL('consumer', '10.1.0.200', 0, path, { side: 'consumer' });
}

function registry(ttl = 10_000): { registry: EtcdRegistry; states: RegistryState[]; logger: RecordingLogger } {
  if (server === undefined) throw new Error('etcd did not start (see beforeAll)');
  const logger = new RecordingLogger();
  const r = new EtcdRegistry({ address: `127.0.0.1:${PORT}`, ttl, requestTimeout: 1000 }, logger);
  open.push(r);
  const states: RegistryState[] = [];
  r.onStateChange((s) => states.push(s));
  return { registry: r, states, logger };
}

/** Keeps every list a subscriber was given. */
function recorder() {
  const lists: string[][] = [];
  return {
    lists,
    listener: (urls: URL[]) => lists.push(urls.map((u) => u.host).sort()),
    sees: (...hosts: string[]) => {
      const last = lists[lists.length - 1];
      return last !== undefined && last.join() === [...hosts].sort().join();
    },
  };
}

/** What the kernel's registry manager does on 'reconnected': register everything again. */
function manage(r: EtcdRegistry, urls: URL[], states: RegistryState[]) {
  const done: Promise<void>[] = [];
  r.onStateChange((s) => {
    if (s !== 'reconnected') return;
    const registered = Promise.all(urls.map((u) => r.register(u))).then(() => undefined);
    // A reconnect the test no longer waits for (one reported as the registry closes at the end)
    // rejects when the registry closes: `settled()` still sees it, nothing else is told.
    registered.catch(() => undefined);
    done.push(registered);
  });
  return { settled: () => Promise.all(done), reconnects: () => states.filter((s) => s === 'reconnected').length };
}

async function restart(dir: string): Promise<void> {
  await server?.stop();
  server = await startEtcd(PORT, dir);
}

it('etcd stopped and started on the same data dir: states go down and up, watches resume, register works again', async () => {
  const name = iface();
  const p = registry();
  const c = registry();
  const [p1, p2] = [provider(name, 1), provider(name, 2)];
  await p.registry.register(p1);
  const seen = recorder();
  await c.registry.subscribe(consumer(name), seen.listener);
  await waitFor(() => seen.sees('10.1.0.1'), WAIT, 'the first provider');
  // The first connection is not reported.
  expect([...p.states, ...c.states]).toEqual([]);

  await server?.stop();
  await waitFor(() => p.states.includes('disconnected') && c.states.includes('disconnected'), WAIT, 'both instances to report disconnected');
  // While etcd is down, operations fail fast with a coded error instead of hanging.
  const started = Date.now();
  const failure = await rejectionOf(p.registry.register(p2));
  expect(PlexusError.is(failure)).toBe(true);
  expect(['PLEXUS_ERR_ETCD_UNREACHABLE', 'PLEXUS_ERR_ETCD_TIMEOUT']).toContain((failure as PlexusError).code);
  expect(Date.now() - started).toBeLessThan(5_000);
  const down = await rejectionOf(c.registry.subscribe(consumer(`${name}.Other`), () => undefined));
  expect(PlexusError.is(down)).toBe(true);

  server = await startEtcd(PORT, server!.dir);
  await waitFor(() => p.states.lastIndexOf('connected') > p.states.indexOf('disconnected'), WAIT, 'the provider side to report connected');
  await waitFor(() => c.states.lastIndexOf('connected') > c.states.indexOf('disconnected'), WAIT, 'the consumer side to report connected');
  // The lease survived (etcd keeps leases across a restart): no re-registration was needed.
  expect(p.states).not.toContain('reconnected');
  // Each instance reports each change of state once: down, up, down, up...
  for (const states of [p.states, c.states]) states.forEach((s, i) => expect(s).toBe(i % 2 === 0 ? 'disconnected' : 'connected'));
  await p.registry.register(p2);
  await waitFor(() => seen.sees('10.1.0.1', '10.1.0.2'), WAIT, 'the provider registered after the restart');
  await p.registry.unregister(p1);
  await waitFor(() => seen.sees('10.1.0.2'), WAIT, 'the list without the unregistered provider');
}, 60_000);

it('etcd started again with a fresh data dir: the lease is lost, reconnected is reported, the manager re-registers, lists recover', async () => {
  const name = iface();
  const p = registry(3_000);
  const c = registry();
  const [p1, p2, p3] = [provider(name, 1), provider(name, 2), provider(name, 3)];
  const manager = manage(p.registry, [p1, p2], p.states);
  await p.registry.register(p1);
  await p.registry.register(p2);
  const seen = recorder();
  const sub = consumer(name);
  await c.registry.subscribe(sub, seen.listener);
  await waitFor(() => seen.sees('10.1.0.1', '10.1.0.2'), WAIT, 'both providers');

  const fresh = tempDir('fresh');
  dirs.push(fresh);
  await restart(fresh);
  await waitFor(() => manager.reconnects() > 0, WAIT, 'the provider side to report reconnected');
  expect(p.logger.warnings('lease lost').length).toBeGreaterThan(0);
  await manager.settled();
  await waitFor(() => seen.sees('10.1.0.1', '10.1.0.2'), WAIT, 'the re-registered providers on the fresh server');
  // The consumer's watch is live on the new server: a new registration is seen.
  await p.registry.register(p3);
  await waitFor(() => seen.sees('10.1.0.1', '10.1.0.2', '10.1.0.3'), WAIT, 'a provider registered after the recovery');
  // The manager also subscribes again: the current list is delivered once more, nothing is duplicated.
  const before = seen.lists.length;
  await c.registry.subscribe(sub, seen.listener);
  await waitFor(() => seen.lists.length === before + 1, WAIT, 'the re-delivered list');
  expect(seen.sees('10.1.0.1', '10.1.0.2', '10.1.0.3')).toBe(true);
  await p.registry.unregister(p3);
  await waitFor(() => seen.sees('10.1.0.1', '10.1.0.2'), WAIT, 'the list after an unregister');
  await new Promise((r) => setTimeout(r, 200));
  expect(seen.lists.length).toBe(before + 2);
}, 60_000);

it('etcd down for longer than the TTL: the lease counts as lost, a new one is granted, entries outlive the old lease', async () => {
  const name = iface();
  const p = registry(2_000);
  const c = registry();
  const p1 = provider(name, 1);
  const manager = manage(p.registry, [p1], p.states);
  await p.registry.register(p1);
  const seen = recorder();
  await c.registry.subscribe(consumer(name), seen.listener);
  await waitFor(() => seen.sees('10.1.0.1'), WAIT, 'the provider');

  await server?.stop();
  await waitFor(() => p.states.includes('disconnected'), WAIT, 'disconnected');
  // Past the TTL without a keep-alive: the registry gives the lease up (etcd would have expired it).
  await waitFor(() => p.logger.warnings('lease lost').length > 0, WAIT, 'the lease to count as lost');
  server = await startEtcd(PORT, server!.dir);
  await waitFor(() => manager.reconnects() > 0, WAIT, 'reconnected');
  await manager.settled();
  // etcd restored the old lease with a fresh TTL; once it expires (about 2 s) the entry must still
  // be there, now held by the new lease.
  await new Promise((r) => setTimeout(r, 3_500));
  const raw = new Etcd3({ hosts: `http://127.0.0.1:${PORT}` });
  try {
    const keys = await raw.getAll().prefix(`/plexus/${encodeURIComponent(name)}/providers/`).keys();
    expect(keys).toHaveLength(1);
  } finally {
    raw.close();
  }
  await waitFor(() => seen.sees('10.1.0.1'), WAIT, 'the provider, listed');
}, 60_000);

it('a lease revoked behind its back: reconnected is reported and re-registration brings the entries back', async () => {
  const name = iface();
  const p = registry(3_000);
  const c = registry();
  const p1 = provider(name, 1);
  const manager = manage(p.registry, [p1], p.states);
  await p.registry.register(p1);
  const seen = recorder();
  await c.registry.subscribe(consumer(name), seen.listener);
  await waitFor(() => seen.sees('10.1.0.1'), WAIT, 'the provider');

  const raw = new Etcd3({ hosts: `http://127.0.0.1:${PORT}` });
  try {
    const res = await raw.getAll().prefix(`/plexus/${encodeURIComponent(name)}/providers/`).exec();
    expect(res.kvs).toHaveLength(1);
    expect(res.kvs[0].lease).not.toBe('0');
    await raw.leaseClient.leaseRevoke({ ID: res.kvs[0].lease });
  } finally {
    raw.close();
  }
  await waitFor(() => seen.sees(), WAIT, 'the entry to go with its lease');
  await waitFor(() => manager.reconnects() > 0, WAIT, 'reconnected');
  await manager.settled();
  await waitFor(() => seen.sees('10.1.0.1'), WAIT, 'the re-registered provider');
}, 60_000);

it('a register refused with "lease not found" moves to a new lease at once and reports reconnected', async () => {
  const name = iface();
  // A long TTL: keep-alives are 10 s apart, so the put is what meets the revoked lease first.
  const p = registry(30_000);
  const [p1, p2] = [provider(name, 1), provider(name, 2)];
  const manager = manage(p.registry, [p1, p2], p.states);
  await p.registry.register(p1);
  const raw = new Etcd3({ hosts: `http://127.0.0.1:${PORT}` });
  try {
    const [kv] = (await raw.getAll().prefix(`/plexus/${encodeURIComponent(name)}/providers/`).exec()).kvs;
    await raw.leaseClient.leaseRevoke({ ID: kv.lease });
    await p.registry.register(p2);
    expect(manager.reconnects()).toBe(1);
    await manager.settled();
    const after = (await raw.getAll().prefix(`/plexus/${encodeURIComponent(name)}/providers/`).exec()).kvs;
    expect(after).toHaveLength(2);
    expect(new Set(after.map((k) => k.lease)).size).toBe(1);
    expect(after[0].lease).not.toBe(kv.lease);
  } finally {
    raw.close();
  }
}, 60_000);

it('a frozen etcd (SIGSTOP): requests time out, the lease is given up, everything recovers after SIGCONT', async () => {
  const name = iface();
  const p = registry(3_000);
  const c = registry();
  const [p1, p2] = [provider(name, 1), provider(name, 2)];
  const manager = manage(p.registry, [p1], p.states);
  await p.registry.register(p1);
  const seen = recorder();
  await c.registry.subscribe(consumer(name), seen.listener);
  await waitFor(() => seen.sees('10.1.0.1'), WAIT, 'the provider');
  const frozen = server!;
  process.kill(frozen.pid, 'SIGSTOP');
  try {
    const started = Date.now();
    const err = await rejectionOf(p.registry.register(p2));
    expect(PlexusError.is(err, 'PLEXUS_ERR_ETCD_TIMEOUT')).toBe(true);
    // requestTimeout is 1 s; the bound leaves room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(5_000);
    // The keep-alive stream has no answer for a TTL: the lease is given up.
    await waitFor(() => p.states.includes('disconnected'), WAIT, 'disconnected');
    await waitFor(() => p.logger.warnings('lease lost').length > 0, WAIT, 'the lease to count as lost');
  } finally {
    process.kill(frozen.pid, 'SIGCONT');
  }
  await waitFor(() => manager.reconnects() > 0, WAIT, 'reconnected once etcd answers');
  await manager.settled();
  await p.registry.register(p2);
  await waitFor(() => seen.sees('10.1.0.1', '10.1.0.2'), WAIT, 'both providers after the freeze');
}, 60_000);

it('a provider process killed without unregistering disappears within its TTL', async () => {
  // tsc -b rewrites its build info whenever it compiled something: older than a source means stale.
  const src = path.join(__dirname, '..', 'src');
  const info = path.join(__dirname, '..', 'dist', '.tsbuildinfo');
  const newest = Math.max(...fs.readdirSync(src).map((f) => fs.statSync(path.join(src, f)).mtimeMs));
  if (!fs.existsSync(info) || fs.statSync(info).mtimeMs < newest) {
    throw new Error('plugins/registry-etcd/dist is missing or older than src: run `npx tsc -b plugins/registry-etcd` (npm test does)');
  }
  const name = iface();
  const c = registry();
  const seen = recorder();
  await c.registry.subscribe(consumer(name), seen.listener);
  await waitFor(() => seen.lists.length > 0, WAIT, 'the first (empty) list');
  let child: ChildProcess | undefined;
  try {
    child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'registering-child.js')], {
      env: { ...process.env, ETCD_ADDRESS: `127.0.0.1:${PORT}`, PROVIDER_URL: provider(name, 7).toString(), TTL: '2000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('registered') || child?.exitCode !== null, WAIT, 'the child to register');
    expect(out).toContain('registered');
    await waitFor(() => seen.sees('10.1.0.7'), WAIT, "the child's provider");
    child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => seen.sees(), WAIT, "the killed child's provider to vanish");
    // etcd expires a 2 s lease within about 2.5 s (its expiry sweep runs every 500 ms); the bound
    // leaves room for a loaded machine and still tells expiry from the 10 s default.
    expect(Date.now() - killedAt).toBeLessThan(8_000);
  } finally {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}, 60_000);

/** The kernel's registry manager over this backend; the outage stops the real server. */
function managed(fresh: boolean): void {
  registryManagerContract(
    fresh ? 'etcd, back with a fresh data dir' : 'etcd, back with its data',
    () => new EtcdRegistry({ address: `127.0.0.1:${PORT}`, ttl: 3_000, requestTimeout: 1_000 }, new RecordingLogger()),
    {
      stop: async () => {
        await server?.stop();
      },
      start: async () => {
        if (server !== undefined && (await running(server))) return;
        const dir = fresh ? tempDir('managed') : server!.dir;
        if (fresh) dirs.push(dir);
        server = await startEtcd(PORT, dir);
      },
    },
    { waitLimit: WAIT },
  );
}

/** Whether the server process is alive (signal 0 checks without touching it). */
async function running(s: EtcdServer): Promise<boolean> {
  try {
    process.kill(s.pid, 0);
  } catch {
    return false;
  }
  return true;
}

managed(false);
managed(true);

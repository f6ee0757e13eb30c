import { fork } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PlexusError, URL, type NotifyListener, type RegistryState } from '@plexus/kernel/spi';
import { MemoryLogger, registryManagerContract, rejectionOf, waitFor } from '@plexus/kernel/testing';
import { RedisRegistry } from '../src/redis-registry';
import { PORTS, rawClient, startRedis, type TestRedis } from './support/server';

/**
 * Faults against a real redis-server: the server stopped (or killed) and started again empty on
 * the same port, and a provider process killed with SIGKILL. Waits are bounded; nothing sleeps
 * for a fixed time except where the test shows that something does NOT happen.
 */
let server: TestRedis | undefined;
let running = false;
const open: RedisRegistry[] = [];
let serial = 0;
let iface = '';

beforeAll(async () => {
  server = await startRedis(PORTS.fault);
  running = true;
});

afterAll(async () => {
  await server?.dispose();
});

beforeEach(() => {
  iface = `plexus.redis.Fault${process.pid}x${Date.now().toString(36)}x${++serial}`;
});

afterEach(async () => {
  if (!running) await up();
  for (const r of open.splice(0)) await r.close();
});

async function down(signal?: NodeJS.Signals): Promise<void> {
  await server!.stop(signal);
  running = false;
}

async function up(): Promise<void> {
  if (running) return;
  await server!.restart();
  running = true;
}

function registry(options: Record<string, unknown> = {}): RedisRegistry {
  if (!server) throw new Error('redis-server did not start (see beforeAll)');
  const r = new RedisRegistry({ address: server.address, requestTimeout: 1000, ...options }, new MemoryLogger());
  open.push(r);
  return r;
}

const provider = (n: number) => new URL('plexus', `10.3.0.${n}`, 20880, iface, { side: 'provider', application: `app${n}` });
const consumer = () => new URL('consumer', '10.3.0.200', 0, iface, { side: 'consumer' });

/** A listener keeping every list (sorted URL strings joined by spaces) and when it came. */
function recorder(): { lists: string[]; times: number[]; listener: NotifyListener; latest(): string | undefined } {
  const lists: string[] = [];
  const times: number[] = [];
  return {
    lists,
    times,
    listener: (urls) => {
      lists.push(urls.map(String).sort().join(' '));
      times.push(Date.now());
    },
    latest: () => lists[lists.length - 1],
  };
}

function states(r: RedisRegistry): RegistryState[] {
  const seen: RegistryState[] = [];
  r.onStateChange((s) => seen.push(s));
  return seen;
}

describe.each([
  ['stopped (SIGTERM)', 'SIGTERM' as const],
  ['killed (SIGKILL)', 'SIGKILL' as const],
])('redis-server %s and started again empty on the same port', (_name, signal) => {
  it('reports the outage and the return, keeps the last list meanwhile, and lists are right afterwards', async () => {
    const providerSide = registry({ expirePeriod: 3000 });
    const consumerSide = registry({ expirePeriod: 3000 });
    const providerStates = states(providerSide);
    const consumerStates = states(consumerSide);
    const seen = recorder();
    // What the kernel's registry manager does on 'reconnected': register and subscribe again.
    providerSide.onStateChange((s) => {
      if (s === 'reconnected') providerSide.register(provider(1)).catch(() => undefined);
    });
    consumerSide.onStateChange((s) => {
      if (s === 'reconnected') consumerSide.subscribe(consumer(), seen.listener).catch(() => undefined);
    });
    await providerSide.register(provider(1));
    await consumerSide.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.latest() === provider(1).toString(), 5000, 'the provider before the outage');
    await waitFor(() => providerStates.includes('connected') && consumerStates.includes('connected'), 5000, 'both connected');

    await down(signal);
    await waitFor(() => providerStates.includes('disconnected') && consumerStates.includes('disconnected'), 10_000, 'both disconnected');
    const heard = seen.lists.length;
    const started = Date.now();
    const err = await rejectionOf(providerSide.register(provider(2)));
    expect(PlexusError.is(err, 'PLEXUS_ERR_REDIS_UNREACHABLE')).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(PlexusError.is(await rejectionOf(consumerSide.lookup(consumer())), 'PLEXUS_ERR_REDIS_UNREACHABLE')).toBe(true);

    await up();
    await waitFor(() => providerStates.includes('reconnected') && consumerStates.includes('reconnected'), 15_000, 'both reconnected');
    await waitFor(() => seen.latest() === provider(1).toString() && seen.lists.length > heard, 10_000, 'the provider listed again');
    // The outage never reached the subscriber as an empty list.
    expect(seen.lists.every((l) => l === provider(1).toString())).toBe(true);
    const raw = rawClient(PORTS.fault);
    try {
      expect(await raw.hexists(`/plexus/${encodeURIComponent(iface)}/providers`, provider(1).toString())).toBe(1);
    } finally {
      raw.disconnect();
    }

    await providerSide.register(provider(2));
    await waitFor(() => seen.latest() === [provider(1), provider(2)].map(String).sort().join(' '), 5000, 'the provider registered after the restart');
    await providerSide.unregister(provider(1));
    await waitFor(() => seen.latest() === provider(2).toString(), 5000, 'the unregister after the restart');
    expect(providerStates).toEqual(['connected', 'disconnected', 'reconnected']);
  });

  it('without any manager, the backend writes its entries back, its watches resume, and lists shrink only after a grace period', async () => {
    const providerSide = registry({ expirePeriod: 3000 });
    const consumerSide = registry({ expirePeriod: 3000 });
    const consumerStates = states(consumerSide);
    const seen = recorder();
    await providerSide.register(provider(1));
    // An entry whose owner will not come back after the restart.
    const orphan = registry({ expirePeriod: 3000 });
    await orphan.register(provider(9));
    await consumerSide.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.latest() === [provider(1), provider(9)].map(String).sort().join(' '), 5000, 'both providers before the outage');
    await orphan.close();
    await waitFor(() => seen.latest() === provider(1).toString(), 5000, 'the orphan gone before the outage');
    // Listed again by nobody: write it back unowned, as a provider that dies during the outage.
    const raw = rawClient(PORTS.fault);
    try {
      await raw.hset(`/plexus/${encodeURIComponent(iface)}/providers`, provider(9).toString(), '0');
    } finally {
      raw.disconnect();
    }
    await waitFor(() => seen.latest() === [provider(1), provider(9)].map(String).sort().join(' '), 5000, 'the unowned entry listed');
    await down(signal);
    await up();
    await waitFor(() => consumerStates.includes('reconnected'), 15_000, 'reconnected');
    // Polled every 5 ms: at most that much after the registry itself saw the reconnect.
    const reconnectedAt = Date.now();
    const other = registry();
    await other.register(provider(3));
    // During the grace period (expirePeriod/3 + 2 s = 3 s) the vanished entry is still listed
    // beside the fresh ones; then it goes.
    const held = [provider(1), provider(3), provider(9)].map(String).sort().join(' ');
    const truth = [provider(1), provider(3)].map(String).sort().join(' ');
    await waitFor(() => seen.latest() === truth, 15_000, 'the true list after the grace period');
    expect(seen.lists).toContain(held);
    const firstWithout = seen.lists.findIndex((l, i) => seen.times[i] >= reconnectedAt && !l.includes(provider(9).toString()));
    expect(seen.times[firstWithout] - reconnectedAt).toBeGreaterThanOrEqual(2900);
  });
});

it('a provider process killed with SIGKILL disappears for subscribers once its lease passed', async () => {
  const dist = join(__dirname, '..', 'dist', 'redis-registry.js');
  const src = join(__dirname, '..', 'src', 'redis-registry.ts');
  if (statSync(dist).mtimeMs < statSync(src).mtimeMs) {
    throw new Error('plugins/registry-redis/dist is older than src: run `npx tsc -b plugins/registry-redis` first');
  }
  const watcher = registry({ expirePeriod: 1500 });
  const survivor = registry({ expirePeriod: 1500 });
  await survivor.register(provider(2));
  const child = fork(join(__dirname, 'fixtures', 'leased-provider.js'), [server!.address, provider(1).toString(), '1500'], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the provider process did not register in 10 s: ${stderr}`)), 10_000);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the provider process exited with ${code}: ${stderr}`));
      });
    });
    const seen = recorder();
    await watcher.subscribe(consumer(), seen.listener);
    await waitFor(() => seen.latest() === [provider(1), provider(2)].map(String).sort().join(' '), 5000, 'both providers');
    // Alive for longer than its lease: renewals keep it listed.
    await new Promise((res) => setTimeout(res, 2000));
    expect(seen.latest()).toBe([provider(1), provider(2)].map(String).sort().join(' '));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    const killedAt = Date.now();
    // Lease 1.5 s plus one cleanup beat (0.5 s) and a read; the bound is a guard, not the measure.
    await waitFor(() => seen.latest() === provider(2).toString(), 10_000, 'the killed provider gone');
    // Nominally 2 s; the margin is for a loaded machine.
    expect(Date.now() - killedAt).toBeLessThan(6000);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});

registryManagerContract('redis', () => registry({ expirePeriod: 3000 }), {
  stop: () => down(),
  start: () => up(),
});

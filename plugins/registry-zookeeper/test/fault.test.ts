import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { PlexusError, registryLayout } from '@plexus/kernel/spi';
import { MemoryLogger } from '@plexus/kernel/testing';
import { ZookeeperRegistry } from '../src/zookeeper-registry';
import { PORTS, removeDir, startZooKeeper, tempDir, type ZooKeeperServer } from './server';
import { RawClient, Recorder, consumer, expireSession, provider, sessionIdOf, stateLog, uniqueInterface, until } from './support';

/**
 * Faults against a real ZooKeeper: the server stopped and restarted (same port, same data), a
 * session expired under a live client, a provider process killed with SIGKILL. Bounded waits,
 * 127.0.0.1 only, every process stopped by PID.
 */
let server: ZooKeeperServer | undefined;
let dir: string | undefined;
let open: ZookeeperRegistry[] = [];

function address(): string {
  if (!server) throw new Error('ZooKeeper did not start (see beforeAll)');
  return server.address;
}

function registry(options: Record<string, unknown> = {}): ZookeeperRegistry {
  const r = new ZookeeperRegistry({ address: address(), sessionTimeout: 4000, connectTimeout: 1000, requestTimeout: 2000, ...options }, new MemoryLogger());
  open.push(r);
  return r;
}

beforeAll(async () => {
  dir = tempDir('fault');
  server = await startZooKeeper(PORTS.fault, dir);
});

afterEach(async () => {
  const closing = open;
  open = [];
  await Promise.all(closing.map((r) => r.close()));
  const gates = openGates;
  openGates = [];
  await Promise.all(gates.map((g) => g.close()));
});

/** A connection a {@link Gate} holds: the session id of its connect request (hex), once read. */
interface Held {
  socket: net.Socket;
  sessionId?: string;
}

/**
 * A TCP gate in front of the real server, on a port of its own (127.0.0.1, picked by the kernel).
 * `pass`: each connection is piped to ZooKeeper. `hold`: each connection is accepted and read but
 * never answered nor closed, as a ZooKeeper 3.8 still starting does with some connections ("not
 * running", then a NullPointerException in its close). `down()` cuts every connection and stops
 * listening (connections are refused); `up()` listens again on the same port.
 */
interface Gate {
  readonly address: string;
  mode: 'pass' | 'hold';
  readonly held: Held[];
  down(): Promise<void>;
  up(mode: 'pass' | 'hold'): Promise<void>;
  close(): Promise<void>;
}

let openGates: Gate[] = [];

async function gate(upstream: string): Promise<Gate> {
  const [host, portText] = upstream.split(':');
  const sockets = new Set<net.Socket>();
  const held: Held[] = [];
  let port = 0;
  let listening: net.Server | undefined;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  const accept = (socket: net.Socket) => {
    track(socket);
    if (g.mode === 'hold') {
      const entry: Held = { socket };
      held.push(entry);
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        // Connect request: length, protocol version (4), last zxid seen (8), timeout (4), session id (8)...
        if (entry.sessionId === undefined && buffered.length >= 28) entry.sessionId = buffered.subarray(20, 28).toString('hex');
      });
      return;
    }
    const to = net.connect(Number(portText), host);
    track(to);
    socket.pipe(to);
    to.pipe(socket);
    socket.on('close', () => to.destroy());
    to.on('close', () => socket.destroy());
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = net.createServer(accept);
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        port = (srv.address() as net.AddressInfo).port;
        listening = srv;
        resolve();
      });
    });
  const down = async () => {
    const srv = listening;
    listening = undefined;
    for (const s of sockets) s.destroy();
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
  };
  const g: Gate = {
    get address() {
      return `127.0.0.1:${port}`;
    },
    mode: 'pass',
    held,
    down,
    async up(mode) {
      g.mode = mode;
      await listen();
    },
    close: down,
  };
  await listen();
  openGates.push(g);
  return g;
}

afterAll(async () => {
  await server?.stop();
  removeDir(dir);
});

it('server stopped and restarted: disconnected, then connected; lists stay right and register works again', async () => {
  const iface = uniqueInterface();
  const providerSide = registry();
  const consumerSide = registry();
  const providerStates = stateLog(providerSide);
  const consumerStates = stateLog(consumerSide);
  const [p1, p2] = [provider(iface, 1), provider(iface, 2)];
  await providerSide.register(p1);
  const seen = new Recorder();
  await consumerSide.subscribe(consumer(iface), seen.listener);
  await until(() => seen.sees([p1]), 'the provider before the outage');

  await server!.stop();
  await until(() => providerStates.includes('disconnected') && consumerStates.includes('disconnected'), 'both to report disconnected');
  // While the server is down, operations fail with a coded error within connectTimeout, never hang.
  const started = Date.now();
  const failure = await providerSide.register(p2).then(() => undefined, (err: unknown) => err);
  expect(PlexusError.is(failure, 'PLEXUS_ERR_ZOOKEEPER_UNAVAILABLE')).toBe(true);
  expect(Date.now() - started).toBeLessThan(5000);

  server = await startZooKeeper(PORTS.fault, dir!);
  await until(() => providerStates.at(-1) === 'connected' && consumerStates.at(-1) === 'connected', 'both to report connected again');
  // Within the session timeout the session survives the restart: its ephemeral entry is still there.
  expect(providerStates).toEqual(['disconnected', 'connected']);
  expect(seen.sees([p1])).toBe(true);
  // Register works again, and the consumer's watch (restored on the same session) delivers it.
  await providerSide.register(p2);
  await until(() => seen.sees([p1, p2]), 'the provider registered after the restart');
  await providerSide.unregister(p1);
  await until(() => seen.sees([p2]), 'the list without the unregistered provider');
});

it('session expired under the provider: reconnected on a new session, entries gone until the manager registers again', async () => {
  const iface = uniqueInterface();
  const providerSide = registry();
  const consumerSide = registry();
  const states = stateLog(providerSide);
  const p1 = provider(iface, 1);
  // What the kernel's registry manager does on 'reconnected': register everything again.
  providerSide.onStateChange((s) => {
    if (s === 'reconnected') void providerSide.register(p1).catch(() => undefined);
  });
  await providerSide.register(p1);
  // The provider side also subscribes (as a provider watching configurators would).
  const own = new Recorder();
  await providerSide.subscribe(consumer(iface), own.listener);
  const seen = new Recorder();
  await consumerSide.subscribe(consumer(iface), seen.listener);
  await until(() => seen.sees([p1]) && own.sees([p1]), 'the provider before the expiry');
  const before = sessionIdOf(providerSide);

  await expireSession(address(), providerSide);
  await until(() => states.includes('reconnected'), 'the provider side to report reconnected');
  expect(states[0]).toBe('disconnected');
  expect(sessionIdOf(providerSide)).not.toBe(before);
  // The manager's re-register brings the entry back on the new session...
  await until(() => seen.sees([p1]) && seen.lists.some((l) => l.length === 0), 'the consumer to see the entry go and come back');
  // ...and the provider side's own watch came back on the new session without a new subscribe.
  const p2 = provider(iface, 2);
  await consumerSide.register(p2);
  await until(() => own.sees([p1, p2]), 'the renewed session\'s watch to deliver a later change');
});

it('session expired under the consumer: its watches come back on the new session by themselves', async () => {
  const iface = uniqueInterface();
  const providerSide = registry();
  const consumerSide = registry();
  const states = stateLog(consumerSide);
  const [p1, p2] = [provider(iface, 1), provider(iface, 2)];
  await providerSide.register(p1);
  const seen = new Recorder();
  await consumerSide.subscribe(consumer(iface), seen.listener);
  await until(() => seen.sees([p1]), 'the provider before the expiry');
  await expireSession(address(), consumerSide);
  await until(() => states.includes('reconnected'), 'the consumer side to report reconnected');
  await providerSide.register(p2);
  await until(() => seen.sees([p1, p2]), 'a change after the renewal');
  // A manager re-subscribing the same (url, listener) gets the current list again, once.
  const heard = seen.count;
  await consumerSide.subscribe(consumer(iface), seen.listener);
  await until(() => seen.count === heard + 1, 'the re-delivered list');
  expect(seen.sees([p1, p2])).toBe(true);
});

it('a provider process killed with SIGKILL leaves every list within about sessionTimeout', async () => {
  const dist = path.resolve(__dirname, '..', 'dist', 'index.js');
  if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: build first (npx tsc -b plugins/registry-zookeeper)`);
  const iface = uniqueInterface();
  const p1 = provider(iface, 1);
  const consumerSide = registry();
  const seen = new Recorder();
  await consumerSide.subscribe(consumer(iface), seen.listener);
  await until(() => seen.sees([]), 'the empty list first');
  const script = `
    const { ZookeeperRegistry } = require(${JSON.stringify(dist)});
    const { URL } = require('@plexus/kernel/spi');
    const r = new ZookeeperRegistry({ address: ${JSON.stringify(address())}, sessionTimeout: 2000 });
    r.register(URL.parse(${JSON.stringify(p1.toString())})).then(() => console.log('registered'), (e) => { console.error(e); process.exit(1); });
    setInterval(() => undefined, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  try {
    await until(() => seen.sees([p1]), `the child's provider (child output: ${output})`);
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await until(() => seen.sees([]), 'the killed provider to leave the list');
    // The server drops the session after sessionTimeout (2 s, ticked at 200 ms): well under the wait bound.
    expect(Date.now() - killedAt).toBeLessThan(8000);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

/*
 * Seen in the lifecycle test with a ZooKeeper that came back with its data lost: the lost-session
 * timer replaced the old session's client, and the new client's first connection reached the
 * server while it was still starting; the server neither answered nor closed it, the driver has no
 * handshake timeout, and a client that never connected reports no `disconnected` (so no timer
 * covered it): the registry never got its new session and the provider's entry was never written
 * again.
 */
it('a new session whose handshake the server leaves unanswered is dropped after the connect timeout and tried again', async () => {
  const iface = uniqueInterface();
  const g = await gate(address());
  const logger = new MemoryLogger();
  const providerSide = new ZookeeperRegistry({ address: g.address, sessionTimeout: 2000, connectTimeout: 1000, requestTimeout: 2000 }, logger);
  open.push(providerSide);
  const states = stateLog(providerSide);
  const p1 = provider(iface, 1);
  // What the kernel's registry manager does on 'reconnected': register everything again.
  let registeredAgain = false;
  providerSide.onStateChange((s) => {
    if (s === 'reconnected') void providerSide.register(p1).then(() => (registeredAgain = true), () => undefined);
  });
  await providerSide.register(p1);
  const before = sessionIdOf(providerSide);

  // The server goes away, and comes back leaving every handshake unanswered.
  await g.down();
  await until(() => states.includes('disconnected'), 'the provider side to report disconnected');
  await g.up('hold');
  // No connection within sessionTimeout + 1 s: the old session is given up and a new one asked
  // for (session id 0), on a connection the server holds.
  await until(() => g.held.some((h) => h.sessionId === '0'.repeat(16)), "the new session's handshake to reach the server");
  expect(states).not.toContain('reconnected');

  // From now on the server answers: the held handshake must be dropped and tried again.
  g.mode = 'pass';
  await until(() => states.includes('reconnected'), 'the new session once the server answers');
  expect(sessionIdOf(providerSide)).not.toBe(before);
  expect(logger.entries.some((e) => e.level === 'warn' && /did not answer the session handshake within 2000 ms/.test(e.message))).toBe(true);
  await until(() => registeredAgain, 'the entry registered again on the new session');
  const raw = await RawClient.connect(address());
  try {
    const stat = await raw.stat(registryLayout.entry(p1, 'plexus'));
    expect(stat?.ephemeralOwner.toString('hex')).toBe(sessionIdOf(providerSide));
  } finally {
    await raw.close();
  }
});

it('a first connection whose handshake is never answered is dropped after the connect timeout; the next one connects', async () => {
  const iface = uniqueInterface();
  const g = await gate(address());
  g.mode = 'hold';
  const logger = new MemoryLogger();
  // connectTimeout (how long an operation waits) well past the handshake bound (sessionTimeout / 1 server).
  const r = new ZookeeperRegistry({ address: g.address, sessionTimeout: 2000, connectTimeout: 10_000, requestTimeout: 2000 }, logger);
  open.push(r);
  const p1 = provider(iface, 1);
  const registering = r.register(p1);
  await until(() => g.held.length === 1 && g.held[0].sessionId !== undefined, 'the first handshake to reach the server');
  g.mode = 'pass';
  const started = Date.now();
  await registering;
  expect(Date.now() - started).toBeLessThan(8000);
  expect(g.held).toHaveLength(1);
  expect(logger.entries.filter((e) => /did not answer the session handshake/.test(e.message))).toHaveLength(1);
  expect((await r.lookup(consumer(iface))).map(String)).toEqual([p1.toString()]);
});

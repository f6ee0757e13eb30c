import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  consumerStats,
  expectNoFailure,
  lifecycleProject,
  Processes,
  started,
  stopConsumer,
  until,
  waitCalls,
  waitListed,
  type ConsumerStats,
  type StartedProvider,
} from '../fixtures/lifecycle/harness';

/**
 * Issue 10 item 9, registry restart under load, with a real ZooKeeper (scripts/servers/zookeeper.js,
 * restarted on its own data folder as a real server would be) and processes from packed tarballs:
 * a consumer with twenty callers keeps calling two providers from its cached list while ZooKeeper
 * is down for longer than the sessions; a third provider is started during the outage; once
 * ZooKeeper is back the two are registered again and the third is found. The server and every
 * process are stopped by PID in afterAll.
 */
const servers = require(path.join(__dirname, '..', '..', 'scripts', 'servers', 'zookeeper.js')) as {
  ensureInstalled(): void;
  start(o: { port: number; dir: string }): Promise<{ pid: number; stop(): Promise<void> }>;
};

const IFACE = 'fault.lifecycle.ZkWork';
/** ZooKeeper session of every process: short, so the outage below outlasts it. */
const SESSION_MS = 4000;
/** How long ZooKeeper stays down: past the sessions of every process (4 s) with margin. */
const OUTAGE_MS = 7000;

let project: string;
let procs: Processes;
let dataDir: string;
let port: number;
let server: { pid: number; stop(): Promise<void> } | undefined;

/** A port free on 127.0.0.1 now (the kernel picked it; closed again before ZooKeeper binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

const registry = () => ({ type: 'zookeeper', address: `127.0.0.1:${port}`, sessionTimeout: SESSION_MS, snapshot: false });

function report(line: string): void {
  // eslint-disable-next-line no-console
  console.log(`lifecycle: ${line}`);
}

beforeAll(async () => {
  servers.ensureInstalled();
  project = lifecycleProject('zookeeper');
  procs = new Processes(project);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-lifecycle-zk-'));
  port = await freePort();
  server = await servers.start({ port, dir: dataDir });
}, 300_000);

afterAll(async () => {
  await procs?.killAll();
  const s = server;
  server = undefined;
  await s?.stop().catch(() => undefined);
  if (s) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      /* stopped */
    }
  }
  for (const d of [project, dataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
}, 60_000);

it('ZooKeeper restarted under load: no call fails, the providers register again, and one started during the outage is found', async () => {
  const [a, b] = await Promise.all([procs.provider({ registry: registry(), iface: IFACE, name: 'lc-zk-a' }), procs.provider({ registry: registry(), iface: IFACE, name: 'lc-zk-b' })]);
  const consumer = await procs.consumer({ registry: registry(), iface: IFACE, name: 'lc-zk-consumer', concurrency: 20, delayMs: 100 });
  await waitListed(consumer, [a.port, b.port], 30_000, 'both providers in the consumer list');
  await waitCalls(consumer, 200, 30_000, 'calls before the outage');

  // ZooKeeper goes away.
  const s0 = server!;
  server = undefined;
  await s0.stop();
  const downAt = Date.now();
  const atDown = await consumerStats(consumer);

  // A provider started during the outage: its registration cannot succeed yet.
  const late = procs.launchProvider({ registry: registry(), iface: IFACE, name: 'lc-zk-late' });

  // Calls go on from the cached list for the whole outage, past every session.
  await until(() => Date.now() - downAt >= OUTAGE_MS, OUTAGE_MS + 1000, 'the outage to last its time');
  const atUp = await consumerStats(consumer);
  expectNoFailure(atUp);
  const duringOutage = atUp.ok - atDown.ok;
  // 20 callers, 100 ms a call: about 200 calls a second; 500 in 7 s leaves room for a loaded machine.
  expect(duringOutage).toBeGreaterThan(500);
  // The cached list is kept: neither provider was dropped because the registry went away.
  expect(atUp.listed).toEqual([a.port, b.port].sort((x, y) => x - y));
  expect(atUp.byPort[a.port]).toBeGreaterThan(atDown.byPort[a.port] ?? 0);
  expect(atUp.byPort[b.port]).toBeGreaterThan(atDown.byPort[b.port] ?? 0);
  const lateStartedDuringOutage = late.messages.some((m) => m.phase === 'started');

  // ZooKeeper comes back on its data.
  server = await servers.start({ port, dir: dataDir });
  const upAt = Date.now();
  const c: StartedProvider = await started(late, 60_000);
  const all = [a.port, b.port, c.port];
  await waitListed(consumer, all, 30_000, 'the provider started during the outage in the consumer list');
  const foundMs = Date.now() - upAt;
  await until(async () => ((await consumerStats(consumer)).byPort[c.port] ?? 0) >= 50, 20_000, 'calls answered by the late provider');

  // Registered again: a consumer started now (no snapshot) finds all three through ZooKeeper alone.
  const fresh = await procs.consumer({ registry: registry(), iface: IFACE, name: 'lc-zk-fresh', concurrency: 2, delayMs: 0 });
  await waitListed(fresh, all, 30_000, 'all three providers listed by a consumer started after the restart');
  const relistedMs = Date.now() - upAt;
  const sf = await stopConsumer(fresh);
  expectNoFailure(sf);

  const s: ConsumerStats = await stopConsumer(consumer);
  expectNoFailure(s);
  for (const p of all) expect(s.byPort[p]).toBeGreaterThan(0);
  report(
    `zookeeper restart: ${duringOutage} calls during a ${OUTAGE_MS} ms outage, 0 failed; late provider ${lateStartedDuringOutage ? 'finished start() during' : 'finished start() only after'} the outage; ` +
      `found by the running consumer ${foundMs} ms after ZooKeeper returned; a fresh consumer listed all three ${relistedMs} ms after; consumer total ${s.ok} calls, ${s.failed} failed`,
  );
}, 180_000);

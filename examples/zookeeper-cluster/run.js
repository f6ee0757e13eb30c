'use strict';
// `node examples/zookeeper-cluster/run.js`: three providers and a consumer that find each other
// in a real ZooKeeper; load balancing and failover you can watch.
//
// 1. starts ZooKeeper 3.8 on a free loopback port, data in a temp folder
//    (scripts/servers/zookeeper.js; it installs the `zookeeperd` Debian package when missing);
// 2. starts three providers (A, B, C) on free ports; they register in ZooKeeper;
// 3. starts a consumer that calls them in turn (round-robin);
// 4. kills provider A with SIGKILL: no goodbye, its ZooKeeper entry stays until its session
//    expires (4 s). Meanwhile calls that reach A fail over to B or C and none fails;
// 5. once ZooKeeper drops A, the consumer's list shrinks and the last round uses B and C only;
// 6. stops everything (SIGTERM, graceful) and exits 0; 1 if anything went wrong.
// Every process is started with an IPC channel and stops when this script ends; children are
// killed by PID, ZooKeeper included, and the temp folder is removed.
const { fork } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zookeeper = require('../../scripts/servers/zookeeper');

/** The run takes 10–15 s (mostly the 4 s session expiry and ZooKeeper's start); past this something is wrong. */
const GIVE_UP_MS = 90_000;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-zk-cluster-'));
const children = new Set();
let zk;

/** A port nobody listens on right now (the OS picks; ZooKeeper takes it a moment later). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(script, env) {
  const child = fork(path.join(__dirname, script), {
    env: { ...process.env, ...env, HOME: tmp }, // HOME: the registry's disk snapshot goes under this run's folder
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return child;
}

function ready(child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.exited.then(({ code, signal }) => reject(new Error(`a provider exited before it was ready (${signal ?? `exit ${code}`})`)));
  });
}

async function finish(code, why) {
  if (why) console.error(`[demo] ${why}`);
  for (const child of children) child.kill('SIGKILL');
  if (zk) await zk.stop().catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}

async function main() {
  zookeeper.ensureInstalled();
  const port = await freePort();
  zk = await zookeeper.start({ port, dir: path.join(tmp, 'zookeeper') });
  console.log(`[demo] ZooKeeper ${zk.address} up (pid ${zk.pid})`);
  // The environment overrides the files' `registry:` line, so every process finds this server.
  const env = { PLEXUS_REGISTRY: `zookeeper://${zk.address}?sessionTimeout=4000`, PLEXUS_LOG_LEVEL: 'error' };

  const labels = ['A', 'B', 'C'];
  const providers = labels.map((label) => start('provider.js', { ...env, PROVIDER_LABEL: label }));
  const info = await Promise.all(providers.map(ready));
  console.log(`[demo] providers up: ${info.map((p, i) => `${labels[i]} on ${p.address}`).join(', ')}`);

  const consumer = start('consumer.js', env);
  const consumerDone = consumer.exited;
  await new Promise((resolve, reject) => {
    consumer.once('message', resolve); // { killOne: true }
    consumerDone.then(({ code }) => reject(new Error(`the consumer exited early with code ${code}`)));
  });
  console.log(`[demo] SIGKILL to provider A (pid ${info[0].pid}): no unregister, no goodbye`);
  providers[0].kill('SIGKILL');
  await providers[0].exited;
  consumer.send({ label: 'A' });

  const { code } = await consumerDone;
  if (code !== 0) throw new Error(`the consumer exited with code ${code}`);
  for (const [i, p] of providers.entries()) {
    if (i === 0) continue;
    p.kill('SIGTERM');
    const exit = await p.exited;
    if (exit.code !== 0) throw new Error(`provider ${labels[i]} did not stop cleanly (${exit.signal ?? `exit ${exit.code}`})`);
  }
  console.log('[demo] done: providers B and C stopped gracefully');
}

const timer = setTimeout(() => finish(1, `gave up after ${GIVE_UP_MS / 1000} s`), GIVE_UP_MS);
timer.unref();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => finish(1, `${signal}: stopped`));
main().then(
  () => finish(0),
  (err) => finish(1, err.message),
);

'use strict';
/**
 * A real ZooKeeper 3.8 server for tests (DESIGN §9): the Debian package `zookeeperd`, started
 * directly with java (no systemd here), standalone, bound to 127.0.0.1 only, its data in a folder
 * the caller owns.
 *
 *   const zk = require('../../scripts/servers/zookeeper');
 *   zk.ensureInstalled();
 *   const server = await zk.start({ port: 21810, dir: tmp });   // { address, pid, stop() }
 *   ...
 *   await server.stop();                  // SIGTERM, SIGKILL after 5 s; resolves once it exited
 *   await server.stop({ signal: 'SIGKILL' });   // a crash
 *
 * Starting again with the same `dir` keeps the data (znodes and sessions), as a restart of a real
 * server would. CommonJS and no npm dependencies, so any test or script can require it.
 */
const { execFileSync } = require('node:child_process');
const { spawnLogged, tail, portTaken } = require('./child');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const JAR = '/usr/share/java/zookeeper.jar';
const JAVA = '/usr/bin/java';
/*
 * zookeeper.jar's manifest names its own dependencies (netty, jute, jackson, slf4j-api...), except
 * an slf4j binding: without one the server runs but logs nothing, and a failed start would leave
 * no clue. slf4j-simple writes to stderr, which goes to the log file below.
 */
const LOG_BINDINGS = ['/usr/share/java/slf4j-simple.jar', '/usr/share/java/slf4j-nop.jar'];
const READY_TIMEOUT_MS = 20_000;

/** Installs `zookeeperd` with apt-get when its jar or java is missing; throws when that fails. */
function ensureInstalled() {
  if (fs.existsSync(JAR) && fs.existsSync(JAVA)) return;
  try {
    execFileSync('apt-get', ['install', '-y', 'zookeeperd'], { stdio: 'pipe', timeout: 600_000 });
  } catch (err) {
    const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`cannot install ZooKeeper: "apt-get install -y zookeeperd" failed (${err.message}).\n${out}\n` +
      'Install it by hand (as root), or run these tests on a machine that has it.');
  }
  if (!fs.existsSync(JAR) || !fs.existsSync(JAVA)) {
    throw new Error(`ZooKeeper installed but ${!fs.existsSync(JAR) ? JAR : JAVA} is still missing; check the zookeeperd package contents`);
  }
}


/** Sends a four-letter word and resolves with the answer ('' when the connection failed). */
function fourLetters(port, word, timeoutMs = 1000) {
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('connect', () => socket.write(word));
    socket.on('data', (chunk) => {
      if (answer.length < 4096) answer += chunk.toString('latin1');
    });
    socket.on('end', done);
    socket.on('error', done);
    socket.on('close', done);
  });
}


/**
 * Starts a standalone server on 127.0.0.1:`port` with its data under `dir` (created when missing).
 * Options: `tickTime` (ms, default 200: sessions expire at tick granularity, so a small tick keeps
 * expiry tests short), `maxSessionTimeout` (default 60000, so clients get the timeout they ask for).
 * Resolves once `ruok` answers `imok` (bounded by 20 s); rejects with the server's log tail otherwise.
 */
async function start({ port, dir, tickTime = 200, maxSessionTimeout = 60_000 }) {
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`zookeeper.start: bad port ${port}`);
  if (typeof dir !== 'string' || !dir) throw new Error('zookeeper.start: give a data folder as `dir`');
  // ruok below must be answered by our server, not by one another test left on the port.
  if (await portTaken(port)) throw new Error(`zookeeper.start: 127.0.0.1:${port} is already in use; stop what holds it or pick another port`);
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const cfg = path.join(dir, 'zoo.cfg');
  fs.writeFileSync(cfg, [
    `tickTime=${tickTime}`,
    `dataDir=${dataDir}`,
    `clientPort=${port}`,
    'clientPortAddress=127.0.0.1',
    'admin.enableServer=false',
    '4lw.commands.whitelist=ruok,srvr',
    `minSessionTimeout=${2 * tickTime}`,
    `maxSessionTimeout=${maxSessionTimeout}`,
    'maxClientCnxns=200',
    // No periodic purge, no JMX log4j beans: nothing runs that a test did not ask for.
    'autopurge.purgeInterval=0',
    '',
  ].join('\n'));

  const binding = LOG_BINDINGS.find((j) => fs.existsSync(j));
  const classpath = [JAR, binding].filter(Boolean).join(':');
  const logFile = path.join(dir, 'zookeeper.log');
  const server = spawnLogged(JAVA, [
      '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1',
      '-Dzookeeper.jmx.log4j.disable=true',
      '-Dorg.slf4j.simpleLogger.showDateTime=true',
      '-cp', classpath,
      'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg,
    ], { cwd: dir, logFile });
  const { pid, stop } = server;

  const end = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const exited = server.exited();
    if (exited) {
      const why = exited.error ? exited.error.message : `exit code ${exited.code}, signal ${exited.signal}`;
      throw new Error(`ZooKeeper on 127.0.0.1:${port} exited while starting (${why}). Log tail (${logFile}):\n${tail(logFile)}`);
    }
    if ((await fourLetters(port, 'ruok')) === 'imok') break;
    if (Date.now() >= end) {
      await stop({ signal: 'SIGKILL' });
      throw new Error(`ZooKeeper on 127.0.0.1:${port} did not answer "ruok" within ${READY_TIMEOUT_MS} ms ` +
        `(is the port taken?). Log tail (${logFile}):\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address: `127.0.0.1:${port}`, pid, stop, logFile };
}

module.exports = { ensureInstalled, start, fourLetters };

'use strict';
/**
 * A real Redis 7 server for tests (DESIGN §9): the Debian package `redis-server`, run in the
 * foreground (not daemonized, so we hold its PID), bound to 127.0.0.1 only, no persistence, its
 * working folder and log in a folder the caller owns.
 *
 *   const redis = require('../../scripts/servers/redis');
 *   redis.ensureInstalled();
 *   const server = await redis.start({ port: 26380, dir: tmp });   // { address, pid, stop(), logFile }
 *   ...
 *   await server.stop();                        // SIGTERM, SIGKILL after 5 s; resolves once it exited
 *   await server.stop({ signal: 'SIGKILL' });   // a crash
 *
 * With `--save ''` and `--appendonly no` a restart starts empty, as a cache-style Redis would: the
 * registry on top must register again. `password` sets `requirepass`; `args` adds raw server
 * arguments (e.g. ['--hash-max-listpack-entries', '0']). CommonJS and no npm dependencies, so any
 * test or script can require it.
 */
const { execFileSync } = require('node:child_process');
const { spawnLogged, tail, portTaken } = require('./child');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const BINARY = '/usr/bin/redis-server';
const READY_TIMEOUT_MS = 20_000;

/** Installs `redis-server` with apt-get when its binary is missing; throws when that fails. */
function ensureInstalled() {
  if (fs.existsSync(BINARY)) return;
  try {
    execFileSync('apt-get', ['install', '-y', 'redis-server'], { stdio: 'pipe', timeout: 600_000 });
  } catch (err) {
    const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`cannot install Redis: "apt-get install -y redis-server" failed (${err.message}).\n${out}\n` +
      'Install it by hand (as root), or run these tests on a machine that has it.');
  }
  if (!fs.existsSync(BINARY)) throw new Error(`redis-server installed but ${BINARY} is still missing; check the package contents`);
}


/**
 * Sends inline commands (e.g. ['AUTH pw', 'PING']) and resolves with the raw answer, '' when the
 * connection failed. Reads at most 4 KiB.
 */
function send(port, commands, timeoutMs = 1000) {
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('connect', () => socket.write(commands.map((c) => `${c}\r\n`).join('')));
    socket.on('data', (chunk) => {
      if (answer.length < 4096) answer += chunk.toString('latin1');
      // One reply line per command is all we wait for.
      if (answer.split('\r\n').length > commands.length) done();
    });
    socket.on('end', done);
    socket.on('error', done);
    socket.on('close', done);
  });
}


/**
 * Starts a server on 127.0.0.1:`port`, working folder `dir` (created when missing), log in
 * `dir/redis.log`. Resolves once PING answers PONG (bounded by 20 s); rejects with the server's log
 * tail otherwise, after killing what it started.
 */
async function start({ port, dir, password, args = [] }) {
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`redis.start: bad port ${port}`);
  if (typeof dir !== 'string' || !dir) throw new Error('redis.start: give a working folder as `dir`');
  // PING below must be answered by our server, not by one another test left on the port.
  if (await portTaken(port)) throw new Error(`redis.start: 127.0.0.1:${port} is already in use; stop what holds it or pick another port`);
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'redis.log');
  const argv = [
    '--bind', '127.0.0.1',
    '--port', String(port),
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no',
    '--logfile', logFile,
    ...(password ? ['--requirepass', password] : []),
    ...args,
  ];
  const server = spawnLogged(BINARY, argv, { cwd: dir, logFile });
  const { pid, stop } = server;

  const ping = password ? [`AUTH ${password}`, 'PING'] : ['PING'];
  const end = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const exited = server.exited();
    if (exited) {
      const why = exited.error ? exited.error.message : `exit code ${exited.code}, signal ${exited.signal}`;
      throw new Error(`Redis on 127.0.0.1:${port} exited while starting (${why}). Log tail (${logFile}):\n${tail(logFile)}`);
    }
    if ((await send(port, ping)).includes('+PONG')) break;
    if (Date.now() >= end) {
      await stop({ signal: 'SIGKILL' });
      throw new Error(`Redis on 127.0.0.1:${port} did not answer PING within ${READY_TIMEOUT_MS} ms. Log tail (${logFile}):\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { address: `127.0.0.1:${port}`, pid, stop, logFile };
}

module.exports = { ensureInstalled, start, send };

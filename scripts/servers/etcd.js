/**
 * A real etcd 3.4 server for tests (DESIGN §9): the Debian package `etcd-server`, started directly
 * (no systemd), bound to 127.0.0.1 only, with its data under a folder the caller owns.
 *
 *   const etcd = require('../../scripts/servers/etcd');
 *   const server = await etcd.start({ port: 23790, dir });   // { address, pid, stop() }
 *   ...
 *   await server.stop();
 *
 * CommonJS and no npm dependencies, so any test or script can require it.
 */
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const { tail } = require('./child');
const http = require('node:http');
const path = require('node:path');

const BINARY = '/usr/bin/etcd';
const PACKAGE = 'etcd-server';
/** How long start() waits for /health to say true. etcd 3.4 on loopback is ready in ~1 s. */
const READY_TIMEOUT_MS = 20_000;
/** How long stop() waits for the process to exit after SIGTERM before it sends SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** Installs etcd-server with apt-get when /usr/bin/etcd is missing; throws when that fails. */
function ensureInstalled() {
  if (fs.existsSync(BINARY)) return;
  try {
    execFileSync('apt-get', ['install', '-y', PACKAGE], { stdio: 'pipe', timeout: 600_000 });
  } catch (err) {
    const out = `${err.stdout || ''}${err.stderr || ''}`.trim().split('\n').slice(-10).join('\n');
    throw new Error(`cannot install ${PACKAGE} with apt-get (needed for ${BINARY}): ${err.message}\n${out}`);
  }
  if (!fs.existsSync(BINARY)) throw new Error(`apt-get installed ${PACKAGE} but ${BINARY} is still missing`);
}


/** GET /health → true when etcd answers {"health":"true"}. Never throws. */
function healthy(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body).health === 'true');
        } catch {
          resolve(false);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * Starts etcd on 127.0.0.1:`port` (peer port `peerPort`, default port + 5) with its data in
 * `dir/data` and its log in `dir/etcd.log`. Starting again with the same `dir` keeps the data
 * (leases, keys, revisions); a new `dir` is a fresh cluster. Resolves once GET /health says true,
 * within 20 s, or throws with the log's tail.
 */
async function start({ port, dir, peerPort = port + 5, name = 'plexus-test' }) {
  if (!Number.isInteger(port) || !dir) throw new Error('etcd start({ port, dir }) needs a port and a folder');
  ensureInstalled();
  fs.mkdirSync(dir, { recursive: true });
  const log = path.join(dir, 'etcd.log');
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', name,
    '--data-dir', path.join(dir, 'data'),
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `${name}=${peer}`,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', `plexus-${port}`,
    '--logger', 'zap',
    '--log-outputs', 'stderr',
  ];
  const fd = fs.openSync(log, 'a');
  let child;
  try {
    child = spawn(BINARY, args, { stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  let spawnError;
  child.once('error', (err) => (spawnError = err));
  const pid = child.pid;

  const stop = async (signal = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const grace = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited(child);
    clearTimeout(grace);
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`etcd on port ${port} exited before it was ready (${spawnError ? spawnError.message : `code ${child.exitCode}, signal ${child.signalCode}`}); log tail:\n${tail(log)}`);
    }
    if (await healthy(port)) break;
    if (Date.now() > deadline) {
      await stop('SIGKILL');
      throw new Error(`etcd on port ${port} was not healthy within ${READY_TIMEOUT_MS} ms; log tail:\n${tail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: `127.0.0.1:${port}`,
    pid,
    dir,
    /** Stops exactly this process (SIGTERM, SIGKILL after 10 s, or the signal given) and waits for its exit. */
    stop,
  };
}

module.exports = { ensureInstalled, start, BINARY, PACKAGE };

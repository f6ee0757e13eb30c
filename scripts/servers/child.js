'use strict';
/**
 * What the server scripts share: start a server binary with its output in a log file, and stop
 * exactly that PID (SIGTERM, then SIGKILL after a grace period), waiting for it to exit.
 * CommonJS, no npm dependencies.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');

/** How long `stop()` waits after its signal before it sends SIGKILL. */
const STOP_GRACE_MS = 5_000;

/**
 * Spawns `binary argv` in `cwd`, stdout and stderr appended to `logFile`. Returns the child, its
 * `pid`, `exited()` (undefined while it runs, else `{ code, signal, error? }`), `exit` (resolves on
 * exit) and `stop({ signal })`.
 */
function spawnLogged(binary, argv, { cwd, logFile }) {
  const out = fs.openSync(logFile, 'a');
  let child;
  try {
    // Anything printed before the server opens its own log (a bad argument) lands in the same file.
    child = spawn(binary, argv, { cwd, stdio: ['ignore', out, out] });
  } finally {
    fs.closeSync(out);
  }
  let exited = child.exitCode !== null ? { code: child.exitCode, signal: null } : undefined;
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      exited = { code: null, signal: null, error: err };
      resolve();
    });
  });
  const pid = child.pid;
  const stop = async ({ signal = 'SIGTERM' } = {}) => {
    if (exited) return;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    let timer;
    await Promise.race([exit, new Promise((r) => (timer = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(timer);
    if (!exited) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exit;
    }
  };
  return { child, pid, exit, exited: () => exited, stop };
}

/** The last `lines` lines of a server's log, or a note that it is empty or missing. */
function tail(file, lines = 30) {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd();
    return text ? text.split('\n').slice(-lines).join('\n') : '(the log is empty)';
  } catch {
    return '(no log written)';
  }
}

/** Whether something accepts connections on 127.0.0.1:`port` (so a readiness probe would not be ours). */
function portTaken(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

module.exports = { spawnLogged, tail, portTaken, STOP_GRACE_MS };

'use strict';
/**
 * A real Prometheus 2.42 for tests (DESIGN §9): the Debian package `prometheus`, started directly
 * (no systemd), listening on 127.0.0.1 only, with a generated config that scrapes the given
 * targets and its TSDB in a folder the caller owns.
 *
 *   const prometheus = require('../../scripts/servers/prometheus');
 *   const server = await prometheus.start({ port: 29090, dir, targets: ['127.0.0.1:9464'] });
 *   const body = await server.query('plexus_requests_total');   // the /api/v1/query answer, parsed
 *   ...
 *   await server.stop();                                         // SIGTERM, SIGKILL after 5 s
 *
 * CommonJS and no npm dependencies, so any test or script can require it.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawnLogged, tail, portTaken } = require('./child');

const BINARY = '/usr/bin/prometheus';
const PACKAGE = 'prometheus';
/** How long start() waits for /-/ready. Prometheus on loopback with an empty TSDB is ready in 1–3 s. */
const READY_TIMEOUT_MS = 30_000;
/** Answers of the HTTP API are read up to this many bytes; a test's queries return a few KiB. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Installs `prometheus` with apt-get when its binary is missing; throws when that fails. */
function ensureInstalled() {
  if (fs.existsSync(BINARY)) return;
  try {
    execFileSync('apt-get', ['install', '-y', PACKAGE], {
      stdio: 'pipe',
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`cannot install Prometheus: "apt-get install -y ${PACKAGE}" failed (${err.message}).\n${out}\n` +
      'Install it by hand (as root), or run this test on a machine that has it.');
  }
  if (!fs.existsSync(BINARY)) throw new Error(`apt-get installed ${PACKAGE} but ${BINARY} is still missing`);
}

/** GET `path` on 127.0.0.1:`port`: `{ status, body }`, or undefined when nothing answered. Never throws. */
function get(port, urlPath, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy();
          resolve({ status: res.statusCode, body: '', tooLarge: true });
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** The generated prometheus.yml: one job scraping `targets` every `scrapeIntervalMs`. */
function configText(targets, scrapeIntervalMs) {
  const every = `${Math.max(1, Math.round(scrapeIntervalMs / 1000))}s`;
  return [
    'global:',
    `  scrape_interval: ${every}`,
    `  evaluation_interval: ${every}`,
    'scrape_configs:',
    '  - job_name: plexus',
    `    scrape_interval: ${every}`,
    `    scrape_timeout: ${every}`,
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
}

/**
 * Starts Prometheus on 127.0.0.1:`port` scraping `targets` (`host:port`, path /metrics) every
 * `scrapeIntervalMs` (whole seconds, at least 1 s), with its config in `dir/prometheus.yml`, its
 * data in `dir/data` and its log in `dir/prometheus.log`. Resolves once /-/ready answers 200, or
 * throws with the log's tail (a port already taken is refused before starting).
 */
async function start({ port, dir, targets, scrapeIntervalMs = 1000 }) {
  if (!Number.isInteger(port) || !dir || !Array.isArray(targets) || targets.length === 0) {
    throw new Error('prometheus start({ port, dir, targets }) needs a port, a folder and at least one target');
  }
  ensureInstalled();
  if (await portTaken(port)) throw new Error(`cannot start Prometheus: 127.0.0.1:${port} is already taken by another process`);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, configText(targets, scrapeIntervalMs));
  const log = path.join(dir, 'prometheus.log');
  const server = spawnLogged(
    BINARY,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { cwd: dir, logFile: log },
  );
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const exited = server.exited();
    if (exited) {
      throw new Error(`Prometheus on port ${port} exited before it was ready (${exited.error ? exited.error.message : `code ${exited.code}, signal ${exited.signal}`}); log tail:\n${tail(log)}`);
    }
    const ready = await get(port, '/-/ready', 1000);
    if (ready && ready.status === 200) break;
    if (Date.now() > deadline) {
      await server.stop({ signal: 'SIGKILL' });
      throw new Error(`Prometheus on port ${port} was not ready within ${READY_TIMEOUT_MS} ms; log tail:\n${tail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: `127.0.0.1:${port}`,
    pid: server.pid,
    dir,
    logFile: log,
    /** GET /api/v1/query?query=`promql`: the parsed answer (`{ status, data: { resultType, result } }`); throws on a non-JSON answer. */
    async query(promql) {
      const res = await get(port, `/api/v1/query?query=${encodeURIComponent(promql)}`, 5000);
      if (!res) throw new Error(`Prometheus on port ${port} did not answer the query ${promql}`);
      try {
        return JSON.parse(res.body);
      } catch {
        throw new Error(`Prometheus answered the query ${promql} with HTTP ${res.status} and no JSON: ${res.body.slice(0, 300)}`);
      }
    },
    /** GET /api/v1/targets, parsed: the scrape targets and their health. */
    async targets() {
      const res = await get(port, '/api/v1/targets', 5000);
      return res ? JSON.parse(res.body) : undefined;
    },
    /** Stops exactly this process (SIGTERM, SIGKILL after 5 s, or the signal given) and waits for its exit. */
    stop: (options) => server.stop(options),
  };
}

module.exports = { ensureInstalled, start, configText, BINARY, PACKAGE };

#!/usr/bin/env node
/**
 * The real servers the test suite uses (DESIGN §9): ZooKeeper, etcd, Redis and Prometheus from Debian's
 * packages. `node scripts/servers.js install` installs whatever is missing (one apt-get run, with
 * `apt-get update` first when the package lists are stale or absent) and is what jest's global
 * setup and `.ci/run` call. Tests start and stop their own servers, on ports of their own and by
 * PID, through `scripts/servers/<name>.js` (`start({ port, dir })`).
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const SERVERS = {
  zookeeper: { module: require('./servers/zookeeper'), package: 'zookeeperd', binary: '/usr/share/java/zookeeper.jar' },
  etcd: { module: require('./servers/etcd'), package: 'etcd-server', binary: '/usr/bin/etcd' },
  redis: { module: require('./servers/redis'), package: 'redis-server', binary: '/usr/bin/redis-server' },
  prometheus: { module: require('./servers/prometheus'), package: 'prometheus', binary: '/usr/bin/prometheus' },
  // Not a server: the browser the console test drives (playwright-core, DESIGN §9); nothing to start.
  chromium: { module: { ensureInstalled() {} }, package: 'chromium', binary: '/usr/bin/chromium' },
};

function aptGet(args) {
  execFileSync('apt-get', args, { stdio: 'pipe', timeout: 900_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** Installs every missing server package; throws (loudly, with apt's output) when it cannot. */
function install() {
  const missing = Object.values(SERVERS).filter((s) => !fs.existsSync(s.binary)).map((s) => s.package);
  if (missing.length > 0) {
    process.stderr.write(`[servers] installing ${missing.join(', ')} (apt-get)…\n`);
    try {
      aptGet(['install', '-y', ...missing]);
    } catch {
      // A fresh machine may have no package lists yet.
      try {
        aptGet(['update']);
        aptGet(['install', '-y', ...missing]);
      } catch (err) {
        const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
        throw new Error(`cannot install ${missing.join(', ')} with apt-get (${err.message})\n${out}\nThe registry tests need real servers; install them by hand (as root).`);
      }
    }
  }
  // Each module checks its own binary and says precisely what is still missing.
  for (const s of Object.values(SERVERS)) s.module.ensureInstalled();
}

module.exports = { install, SERVERS };

if (require.main === module) {
  const command = process.argv[2];
  if (command === 'install') {
    install();
    process.stderr.write('[servers] ZooKeeper, etcd, Redis and Prometheus are installed\n');
  } else {
    process.stderr.write('usage: node scripts/servers.js install\n');
    process.exit(2);
  }
}

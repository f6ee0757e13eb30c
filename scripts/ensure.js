#!/usr/bin/env node
/**
 * Makes a fresh clone runnable: installs npm packages when they are missing or older than the
 * lockfile, then builds every package (tsc -b is incremental, so an up-to-date tree costs ~1 s).
 * Used by `npm test`, `npm run demo` and `npm run bench`.
 */
'use strict';
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });

const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
const stale = !fs.existsSync(marker) || !fs.existsSync(path.join(root, 'node_modules', '.bin', 'tsc'))
  || fs.statSync(lock).mtimeMs > fs.statSync(marker).mtimeMs + 1000;
if (stale) {
  console.error('[ensure] installing npm packages (npm ci)…');
  run('npm ci --no-audit --no-fund');
}
console.error('[ensure] building (tsc -b)…');
run('npx --no-install tsc -b tsconfig.json');

#!/usr/bin/env node
/**
 * Prints draft rows for docs/reference/errors.md: every PLEXUS_ERR_* code in kernel and plugin
 * sources, grouped by package, with the hint of its defineError() when one is found. With
 * `--missing`, only the codes the doc does not have yet. The doc itself is edited by hand; the
 * test kernel/test/errors-doc.test.ts keeps the two in step.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const CODE = /PLEXUS_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)+/g;

function files(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return ['node_modules', 'dist', 'testing'].includes(d.name) ? [] : files(p);
    return d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

const packages = [['@plexus/kernel', path.join(root, 'kernel/src')]];
for (const p of fs.readdirSync(path.join(root, 'plugins'))) packages.push([`@plexus/${p}`, path.join(root, 'plugins', p, 'src')]);
packages.push(['plexus (cli)', path.join(root, 'cli/src')]);
packages.push(['@plexus/kernel/testing', path.join(root, 'kernel/src/testing')]);

const doc = fs.existsSync(path.join(root, 'docs/reference/errors.md')) ? fs.readFileSync(path.join(root, 'docs/reference/errors.md'), 'utf8') : '';
const missingOnly = process.argv.includes('--missing');
const seen = new Set();
for (const [pkg, dir] of packages) {
  const codes = new Map();
  const list = pkg === '@plexus/kernel/testing' ? files(dir).concat() : files(dir);
  for (const f of pkg === '@plexus/kernel/testing' ? fs.readdirSync(dir).filter((n) => n.endsWith('.ts')).map((n) => path.join(dir, n)) : list) {
    const text = fs.readFileSync(f, 'utf8');
    const parts = text.split('defineError(').slice(1);
    for (const part of parts) {
      const code = /^\s*'(PLEXUS_ERR_[A-Z0-9_]+)'/.exec(part);
      const hint = /(['`])((?:[^'`\\]|\\.)*)\1\s*,?\s*\)\s*[,;]/.exec(part);
      if (code) codes.set(code[1], hint ? hint[2].replace(/\\'/g, "'") : '');
    }
    for (const m of text.matchAll(CODE)) if (!codes.has(m[0])) codes.set(m[0], '');
  }
  const rows = [...codes].filter(([c]) => !seen.has(c) && (!missingOnly || !doc.includes(c))).sort();
  rows.forEach(([c]) => seen.add(c));
  if (!rows.length) continue;
  console.log(`\n### ${pkg}\n\n| code | what to do |\n|---|---|`);
  for (const [c, hint] of rows) console.log(`| \`${c}\` | ${hint || '—'} |`);
}

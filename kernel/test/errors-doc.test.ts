import * as fs from 'node:fs';
import * as path from 'node:path';
import { RpcCode } from '../src/errors/rpc-error';

/**
 * Keeps docs/reference/errors.md and the code in step both ways: every framework error code
 * defined anywhere in the kernel or a plugin has a row in the doc, and every code in the doc is
 * still defined somewhere. RpcCodes likewise.
 */
const root = path.resolve(__dirname, '..', '..');
const CODE = /PLEXUS_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)+/g;

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' || d.name === 'dist' ? [] : sourceFiles(p);
    return d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

function codesInCode(): Map<string, string> {
  const found = new Map<string, string>();
  const dirs = [path.join(root, 'kernel', 'src'), path.join(root, 'cli', 'src'), ...fs.readdirSync(path.join(root, 'plugins')).map((p) => path.join(root, 'plugins', p, 'src'))];
  for (const file of dirs.flatMap(sourceFiles)) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(CODE)) if (!found.has(m[0])) found.set(m[0], path.relative(root, file));
  }
  return found;
}

describe('docs/reference/errors.md', () => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'reference', 'errors.md'), 'utf8');
  const documented = new Set(doc.match(CODE) ?? []);
  const defined = codesInCode();

  it('documents every framework error code the code defines', () => {
    const missing = [...defined].filter(([code]) => !documented.has(code)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });

  it('documents no code that the code no longer defines', () => {
    const stale = [...documented].filter((code) => !defined.has(code));
    expect(stale).toEqual([]);
  });

  it('documents every RpcCode', () => {
    const missing = Object.values(RpcCode).filter((c) => !new RegExp(`\\b${c}\\b`).test(doc));
    expect(missing).toEqual([]);
  });
});

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Docs that show code run as written. In README.md, docs/reference/config.md and docs/guide/*.md, a
 * fenced block whose info
 * string has `file=<name>` is written to a fresh folder (one per document); a block that also says
 * `run` is then run with node there, must exit 0 within 60 s, and must print every `// prints: x`
 * its lines promise. Packages resolve from this repository's node_modules, as from an install.
 */
const root = path.resolve(__dirname, '..');
const docs = ['README.md', path.join('docs', 'reference', 'config.md'), ...fs.readdirSync(path.join(root, 'docs', 'guide')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', 'guide', f))];

interface Block {
  file: string;
  run: boolean;
  code: string;
}

function blocksOf(markdown: string): Block[] {
  const out: Block[] = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (const m of markdown.matchAll(fence)) {
    const info = m[1].trim().split(/\s+/);
    const file = info.find((w) => w.startsWith('file='))?.slice('file='.length);
    if (file) out.push({ file, run: info.includes('run'), code: m[2] });
  }
  return out;
}

const cases = docs.map((doc) => [doc, blocksOf(fs.readFileSync(path.join(root, doc), 'utf8'))] as const).filter(([, blocks]) => blocks.some((b) => b.run));

describe('runnable code in the docs', () => {
  it('finds runnable blocks (README at least)', () => {
    expect(cases.map(([doc]) => doc)).toContain('README.md');
  });

  it.each(cases)('%s runs as written', (_doc, blocks) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-docs-'));
    try {
      for (const b of blocks) {
        fs.mkdirSync(path.dirname(path.join(dir, b.file)), { recursive: true });
        fs.writeFileSync(path.join(dir, b.file), b.code);
      }
      for (const b of blocks.filter((x) => x.run)) {
        const result = spawnSync(process.execPath, [b.file], {
          cwd: dir,
          env: { ...process.env, NODE_PATH: path.join(root, 'node_modules'), PLEXUS_LOG_LEVEL: 'warn' },
          encoding: 'utf8',
          timeout: 60_000,
        });
        const out = `${result.stdout}\n${result.stderr}`;
        expect({ file: b.file, status: result.status, out: result.status === 0 ? '' : out }).toEqual({ file: b.file, status: 0, out: '' });
        for (const m of b.code.matchAll(/\/\/ prints: (.+)$/gm)) expect(result.stdout).toContain(m[1].trim());
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

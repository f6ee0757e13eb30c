import * as fs from 'node:fs';
import * as path from 'node:path';
import { Plexus } from '@plexus/kernel';
import zonePlugin from './fixtures/docs-plugin/src';

/**
 * docs/guide/writing-a-plugin.md shows a plugin and tells readers to run a contract suite on it.
 * Its code fences marked `fixture=<path>` are the files of test/fixtures/docs-plugin/ word for
 * word (checked here), and that folder's own test (test/fixtures/docs-plugin/test/) runs the
 * loadbalance contract suite on it, as the guide says. Here the plugin also works in an app.
 */
const root = path.resolve(__dirname, '..');
const guide = fs.readFileSync(path.join(root, 'docs', 'guide', 'writing-a-plugin.md'), 'utf8');
const fences = [...guide.matchAll(/^```\w*[ \t]+fixture=(\S+)[^\n]*\n([\s\S]*?)^```\s*$/gm)].map((m) => ({ file: m[1], code: m[2] }));

describe('the plugin of the writing-a-plugin guide', () => {
  it('shows the fixture files, the contract test among them', () => {
    expect(fences.map((f) => f.file).sort()).toEqual([
      'test/fixtures/docs-plugin/package.json',
      'test/fixtures/docs-plugin/src/index.ts',
      'test/fixtures/docs-plugin/src/zone-load-balance.ts',
      'test/fixtures/docs-plugin/test/zone-load-balance.test.ts',
    ]);
  });

  it.each(fences.map((f) => [f.file, f.code]))('%s is shown word for word', (file, code) => {
    expect(code).toBe(fs.readFileSync(path.join(root, file), 'utf8'));
  });

  it('the manifest names what the module defines', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/docs-plugin/package.json'), 'utf8'));
    expect(pkg.plexus.extensions.map((e: { point: string; name: string }) => `${e.point}/${e.name}`)).toEqual(
      zonePlugin.extensions.map((e) => `${e.point}/${e.name}`),
    );
  });

  const app = (extensions: Record<string, unknown>) => {
    const a = Plexus.create({
      logLevel: 'silent',
      registry: null,
      protocols: [{ name: 'injvm' }],
      consumer: { loadbalance: 'zone' },
      extensions: { loadbalance: { zone: extensions } },
      services: [{ interface: 'demo.Echo', implementation: { echo: (t: string) => t } }],
      references: { echo: { interface: 'demo.Echo' } },
    });
    a.use(zonePlugin);
    return a;
  };

  it('serves calls when chosen by name', async () => {
    const a = app({ prefer: 'eu' });
    try {
      await a.start();
      await expect(a.reference<{ echo(t: string): string }>('echo').echo('hi')).resolves.toBe('hi');
    } finally {
      await a.stop();
    }
  });

  it('its options schema refuses an unknown option at start()', async () => {
    const a = app({ prefr: 'eu' });
    try {
      await expect(a.start()).rejects.toThrow(/unknown option "prefr"/);
    } finally {
      await a.stop();
    }
  });
});

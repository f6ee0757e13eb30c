import * as fs from 'node:fs';
import * as path from 'node:path';
import { definitionsOf } from '../kernel/src/extension/extension-loader';

/**
 * A plugin's package.json manifest is what the loader reads before importing anything (names,
 * wire ids, activation, requirements); its definePlugin() is what runs. One fact, two places:
 * this keeps them in agreement for every package of the repository.
 */
const root = path.resolve(__dirname, '..');
const packages = ['kernel', ...fs.readdirSync(path.join(root, 'plugins')).map((p) => path.join('plugins', p))].filter((dir) =>
  fs.existsSync(path.join(root, dir, 'package.json')),
);

interface ManifestExtension {
  point: string;
  name: string;
  module: string;
  id?: number;
  activate?: unknown;
  requires?: unknown;
  keys?: unknown;
}

const cases: Array<[string, ManifestExtension]> = [];
for (const dir of packages) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8')) as { name: string; plexus?: { extensions?: ManifestExtension[] } };
  for (const ext of pkg.plexus?.extensions ?? []) cases.push([`${pkg.name} ${ext.point} "${ext.name}"`, { ...ext, module: path.join(root, dir, ext.module) }]);
}

describe('plugin manifests agree with their definePlugin()', () => {
  it('finds the manifests of the repository', () => {
    expect(cases.length).toBeGreaterThan(10);
  });

  it.each(cases)('%s', (_label, ext) => {
    expect(fs.existsSync(ext.module)).toBe(true);
    const def = definitionsOf(require(ext.module)).find((d) => d.point === ext.point && d.name === ext.name);
    expect(def).toBeDefined();
    expect(def!.id).toEqual(ext.id);
    if (ext.activate !== undefined || def!.activate !== undefined) expect(def!.activate).toEqual(ext.activate);
    if (ext.requires !== undefined || def!.requires !== undefined) expect(def!.requires).toEqual(ext.requires);
    if (ext.keys !== undefined || def!.keys !== undefined) expect(def!.keys).toEqual(ext.keys);
  });
});

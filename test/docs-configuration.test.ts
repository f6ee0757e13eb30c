import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { configSchema, CALL_KEYS, PLUGIN_KEYS, type ConfigSchemaNode } from '../kernel/src/config/schema';
import { CONFIG_DEFAULTS } from '../kernel/src/config/defaults';
import { SETTING_DEFAULTS } from '../kernel/src/pipeline/method-settings';
import { resolveConfig } from '../kernel/src/config';
import { EXTENSION_POINTS } from '../kernel/src/spi/points';

/**
 * The configuration docs and the schema say the same thing:
 * - docs/guide/configuration.md's "where each key may stand" table is what scripts/config-doc.js
 *   renders from the schema today (rerun it with --write when a key changes);
 * - every yaml block of the guide is a valid config (no unknown key, no wrong type);
 * - docs/reference/config.md names every key of the schema and of PLUGIN_KEYS, and every key its
 *   tables list is one of them.
 */
const root = path.resolve(__dirname, '..');
const guide = fs.readFileSync(path.join(root, 'docs', 'guide', 'configuration.md'), 'utf8');
const reference = fs.readFileSync(path.join(root, 'docs', 'reference', 'config.md'), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const configDoc = require('../scripts/config-doc.js') as {
  render(schema: unknown, defaults: unknown, settingDefaults: unknown): string;
  section(markdown: string): string | undefined;
};

/** Every property name the schema knows, at any depth (through $refs, items and mappings). */
function schemaKeys(): Set<string> {
  const keys = new Set<string>();
  const seen = new Set<ConfigSchemaNode>();
  const walk = (node: ConfigSchemaNode | undefined): void => {
    if (!node || seen.has(node)) return;
    seen.add(node);
    if (node.$ref) walk(configSchema.$defs?.[node.$ref.slice(node.$ref.lastIndexOf('/') + 1)]);
    for (const [k, child] of Object.entries(node.properties ?? {})) {
      keys.add(k);
      walk(child);
    }
    walk(node.items);
    if (typeof node.additionalProperties === 'object') walk(node.additionalProperties);
  };
  walk(configSchema);
  return keys;
}

describe('docs/guide/configuration.md', () => {
  it('has the table scripts/config-doc.js renders from the schema', () => {
    const generated = configDoc.render({ configSchema, CALL_KEYS, PLUGIN_KEYS }, CONFIG_DEFAULTS, SETTING_DEFAULTS);
    expect(configDoc.section(guide)).toBe(generated);
  });

  it('the table has a row for every call key and every plugin key', () => {
    const section = configDoc.section(guide) ?? '';
    for (const key of [...Object.keys(CALL_KEYS), ...Object.keys(PLUGIN_KEYS)]) expect(section).toContain(`| \`${key}\` |`);
  });

  // A block whose info string says `invalid` shows an error on purpose.
  const yamlBlocks = [...guide.matchAll(/^```yaml([^\n]*)\n([\s\S]*?)^```\s*$/gm)].filter((m) => !/\binvalid\b/.test(m[1])).map((m) => m[2]);

  it('has yaml examples', () => {
    expect(yamlBlocks.length).toBeGreaterThanOrEqual(3);
  });

  it.each(yamlBlocks.map((b, i) => [i + 1, b]))('yaml block %d is a valid config', (_n, block) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-config-doc-'));
    try {
      const file = path.join(dir, 'plexus.yaml');
      fs.writeFileSync(file, block);
      expect(() => resolveConfig({ file, env: {} })).not.toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/reference/config.md', () => {
  const known = schemaKeys();

  /**
   * Schema keys the reference does not describe yet; the guide's generated table lists them. Each
   * is a gap for the reference's owner: when the reference gains it, the test below fails until
   * it is taken off this list, so the list only shrinks.
   */
  const REFERENCE_GAPS: string[] = [];
  const named = (k: string) => reference.includes(`\`${k}\``) || reference.includes(`"${k}"`);

  it('names every key of the schema and every key plugins read (but the known gaps)', () => {
    const missing = [...known, ...Object.keys(PLUGIN_KEYS)].filter((k) => !named(k));
    expect(missing.sort()).toEqual([...REFERENCE_GAPS].sort());
  });

  it('the guide lists every key of the schema, the reference\'s gaps included', () => {
    const section = configDoc.section(guide) ?? '';
    expect([...known].filter((k) => !section.includes(`\`${k}\``))).toEqual([]);
  });

  it('lists no key the schema does not know, in any table whose first column is "key"', () => {
    const documented = new Set<string>();
    for (const table of reference.split(/\n(?=\| key )/).slice(1)) {
      for (const row of table.split('\n').slice(2)) {
        if (!row.startsWith('|')) break;
        for (const m of row.split('|')[1].matchAll(/`([^`]+)`/g)) documented.add(m[1]);
      }
    }
    expect(documented.size).toBeGreaterThan(40);
    const points = Object.keys(EXTENSION_POINTS);
    const unknown = [...documented].filter((k) => !known.has(k) && !(k in PLUGIN_KEYS) && !points.includes(k));
    expect(unknown).toEqual([]);
  });

  it('its example config is valid', () => {
    const block = /^```yaml file=plexus\.yaml\n([\s\S]*?)^```\s*$/m.exec(reference)?.[1];
    expect(block).toBeDefined();
    expect(() => parse(block!)).not.toThrow();
  });
});

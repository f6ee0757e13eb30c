import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigErrors, configSchema, type ConfigSchemaNode } from '../src/config';

/** Keeps docs/reference/config.md in step with the schema: every key a user may write is documented. */
const doc = fs.readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'reference', 'config.md'), 'utf8');

function keysOf(node: ConfigSchemaNode | undefined, seen = new Set<ConfigSchemaNode>(), out = new Set<string>()): Set<string> {
  if (!node || seen.has(node)) return out;
  seen.add(node);
  if (node.$ref) keysOf(configSchema.$defs?.[node.$ref.split('/').pop() as string], seen, out);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    out.add(key);
    keysOf(child, seen, out);
  }
  if (typeof node.additionalProperties === 'object') keysOf(node.additionalProperties, seen, out);
  keysOf(node.items, seen, out);
  return out;
}

describe('docs/reference/config.md', () => {
  it('documents every key of the schema', () => {
    const missing = [...keysOf(configSchema)].filter((key) => key !== '$schema' && !doc.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });

  it('documents every config error code', () => {
    const missing = Object.values(ConfigErrors)
      .map((e) => e.code)
      .filter((code) => !doc.includes(code));
    expect(missing).toEqual([]);
  });
});

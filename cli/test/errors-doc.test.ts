import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliErrors } from '../src/errors';
import { USAGE_ERROR } from '../src/program';

/**
 * The command's error codes and the table in cli/README.md, both ways. (The kernel's errors-doc
 * test reads kernel/ and plugins/ only; until it reads cli/ too, the rows live in the README.)
 */
describe('cli/README.md errors', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const documented = new Set(readme.match(/PLEXUS_ERR_CLI_[A-Z0-9_]+/g) ?? []);
  const sources = fs.readdirSync(path.join(__dirname, '..', 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const defined = new Set<string>();
  for (const f of sources) for (const m of fs.readFileSync(path.join(__dirname, '..', 'src', f), 'utf8').match(/PLEXUS_ERR_CLI_[A-Z0-9_]+/g) ?? []) defined.add(m);

  it('documents every code the command defines', () => {
    for (const def of Object.values(CliErrors)) expect(defined.has(def.code)).toBe(true);
    expect(defined.has(USAGE_ERROR)).toBe(true);
    expect([...defined].filter((c) => !documented.has(c))).toEqual([]);
  });

  it('documents no code the command no longer defines', () => {
    expect([...documented].filter((c) => !defined.has(c))).toEqual([]);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const fixture = (name: string): string => join(__dirname, 'fixtures', name);

/** A private temp dir for Unix socket paths; `cleanup` removes it. */
export function socketDir(): { path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'plexus-tcp-'));
  let n = 0;
  return {
    path: (name: string) => join(dir, `${name}-${n++}.sock`),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

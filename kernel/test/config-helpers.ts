import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A temp folder per test file, removed by `cleanup`. */
export function tempDir(): { write(name: string, text: string): string; dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-config-'));
  return {
    dir,
    write(name, text) {
      const file = path.join(dir, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      return file;
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn`, expecting a PlexusError; returns it. */
export function thrown(fn: () => unknown): Error & { code: string; problems?: readonly string[] } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code: string; problems?: readonly string[] };
  }
  throw new Error('expected an error');
}

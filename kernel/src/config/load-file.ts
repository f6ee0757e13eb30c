import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlias, isMap, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { configProblems, ConfigErrors } from './errors';
import { describeValue, displayFile, isPlainObject, type KeyPath } from './key-path';

/** A line and column, both 1-based, as editors count them. */
export interface ConfigPosition {
  line: number;
  column: number;
}

/** A config file read from disk: its data, and where each key stands in it. */
export interface LoadedFile {
  /** The absolute path that was read. */
  readonly path: string;
  /** The file's content as plain data; an empty file gives `{}`. */
  readonly data: Record<string, unknown>;
  /**
   * Where a key stands in the file: for a mapping key, the position of the key itself; for a
   * list item, the item. `[]` is the top of the file. Undefined when the path is not in the file.
   */
  positionOf(keyPath: KeyPath): ConfigPosition | undefined;
}

/** Names tried, in order, when a folder is given instead of a file. */
export const CONFIG_FILE_NAMES = ['plexus.yaml', 'plexus.yml', 'plexus.json'] as const;

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** How many syntax errors a parse failure shows: after the first few they are mostly echoes. */
const MAX_PARSE_PROBLEMS = 3;

/**
 * Reads a `.yaml`, `.yml` or `.json` config file (or `plexus.yaml|yml|json` inside a folder).
 * JSON is parsed as YAML 1.2, of which it is a subset, so both give positions for messages.
 * Throws PLEXUS_ERR_CONFIG_NOT_FOUND, _READ, _PARSE, or _INVALID when the top level is not a mapping.
 * Synchronous: it runs once at startup.
 */
export function loadConfigFile(file: string): LoadedFile {
  const absolute = locate(path.resolve(file));
  const ext = path.extname(absolute).toLowerCase();
  if (!EXTENSIONS.has(ext)) {
    throw ConfigErrors.READ(absolute, `unsupported file type "${ext || '(none)'}" (expected .yaml, .yml or .json)`);
  }
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw ConfigErrors.NOT_FOUND(absolute);
    throw ConfigErrors.READ(absolute, (err as Error).message);
  }

  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: true, uniqueKeys: true });
  const shown = displayFile(absolute);
  if (doc.errors.length > 0) {
    throw configProblems('PARSE', doc.errors.slice(0, MAX_PARSE_PROBLEMS).map((e) => parseProblem(shown, e)));
  }

  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (data !== null && data !== undefined && !isPlainObject(data)) {
    throw configProblems('INVALID', [`${shown}:1:1 the top level must be a mapping of keys (got ${describeValue(data)})`]);
  }
  return {
    path: absolute,
    data: (data ?? {}) as Record<string, unknown>,
    positionOf: (keyPath) => positionIn(doc, lines, keyPath),
  };
}

/** A folder means "the plexus config inside it"; a missing file says what it looked for. */
function locate(absolute: string): string {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(absolute);
  } catch {
    throw ConfigErrors.NOT_FOUND(absolute);
  }
  if (!stat.isDirectory()) return absolute;
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = path.join(absolute, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw ConfigErrors.NOT_FOUND(absolute, `a folder without ${CONFIG_FILE_NAMES.join(', ')}`);
}

/** `plexus.yaml:3:7 Map keys must be unique` and the library's code frame beneath it. */
function parseProblem(shown: string, error: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): string {
  const [first, ...rest] = error.message.split('\n');
  const where = error.linePos ? `${error.linePos[0].line}:${error.linePos[0].col}` : '1:1';
  const summary = first.replace(/ at line \d+, column \d+:?$/, '');
  const frame = rest.filter((l) => l.trim() !== '').map((l) => `    ${l}`);
  return [`${shown}:${where} ${summary}`, ...frame].join('\n  ');
}

function positionIn(doc: Document, lines: LineCounter, keyPath: KeyPath): ConfigPosition | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (node as YamlNode | null)?.range?.[0] ?? 0;
  for (const seg of keyPath) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (!pair) return undefined;
      offset = (pair.key as YamlNode | null)?.range?.[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) return undefined;
      offset = (node as YamlNode | null)?.range?.[0];
    } else {
      return undefined;
    }
  }
  if (offset === undefined) return undefined;
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function keyText(key: unknown): string | undefined {
  if (key === null || key === undefined) return undefined;
  if (typeof key === 'object' && 'value' in key) return String((key as { value: unknown }).value);
  return String(key);
}

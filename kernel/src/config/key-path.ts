import * as path from 'node:path';

/** A key path into the config: `['services', 0, 'methods', 'sayHello', 'timeout']`. Internal. */
export type KeyPath = readonly (string | number)[];

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * The dot/bracket form users read in messages and `sources`: `services[0].methods.sayHello.timeout`,
 * `consumer["hash.arguments"]` for keys that are not plain identifiers.
 */
export function formatPath(keyPath: KeyPath): string {
  let out = '';
  for (const seg of keyPath) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** True for `{}` literals and `Object.create(null)`: the values config merging descends into. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A file name as messages show it: relative to the working folder when inside it, else absolute. */
export function displayFile(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** `"fast"`, `5`, `a list`, `an object`: how a wrong value is quoted in a message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Key paths of the values `sources` describes: scalars, lists of scalars, empty mappings, implementations. */
export function leavesOf(value: unknown, at: KeyPath): KeyPath[] {
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || (typeof v !== 'object' && typeof v !== 'function'))) return [at];
    return value.flatMap((v, n) => leavesOf(v, [...at, n]));
  }
  if (isPlainObject(value) && at[at.length - 1] !== 'implementation') {
    const keys = Object.keys(value);
    if (keys.length === 0) return [at];
    return keys.flatMap((k) => leavesOf(value[k], [...at, k]));
  }
  return [at];
}

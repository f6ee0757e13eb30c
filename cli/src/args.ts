import * as path from 'node:path';
import { CliErrors } from './errors';

/** Longest argument text accepted, characters: a command line, not a data file. */
export const MAX_ARGS_TEXT = 1 << 20;
/** Deepest nesting the position finder follows before calling the input hostile. */
const MAX_DEPTH = 256;

/**
 * The call arguments from the command line: a JSON array is the argument list, any other JSON
 * value is the one argument, nothing means no arguments. Invalid JSON is refused with
 * PLEXUS_ERR_CLI_BAD_ARGS_JSON naming the line, column and offset of the first bad character.
 */
export function parseArgsJson(text: string | undefined): unknown[] {
  if (text === undefined || text.trim() === '') return [];
  if (text.length > MAX_ARGS_TEXT) throw CliErrors.BAD_ARGS_JSON(`${text.length} characters is over the ${MAX_ARGS_TEXT} accepted`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw CliErrors.BAD_ARGS_JSON(describeJsonError(text));
  }
  return Array.isArray(value) ? value : [value];
}

/** Where JSON.parse stopped, said so a person can find it: `unexpected "}" at line 1, column 5 (offset 4)`. */
export function describeJsonError(text: string): string {
  const found = findJsonError(text);
  if (!found) return 'invalid JSON';
  const before = text.slice(0, found.offset);
  const line = before.split('\n').length;
  const column = found.offset - (before.lastIndexOf('\n') + 1) + 1;
  const near = found.offset < text.length ? `unexpected ${JSON.stringify(text[found.offset])}` : 'unexpected end';
  return `${found.what ?? near} at line ${line}, column ${column} (offset ${found.offset})`;
}

/** The offset of the first JSON syntax error in `text`, or undefined when it parses. */
export function findJsonError(text: string): { offset: number; what?: string } | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  class Stop {
    constructor(
      readonly offset: number,
      readonly what?: string,
    ) {}
  }
  const fail = (what?: string): never => {
    throw new Stop(i, what);
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) fail();
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) ((i += k), fail('bad \\u escape'));
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail('bad escape');
      } else i++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a "quoted" key');
        string();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') return void i++;
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail(c === "'" ? 'single quotes are not JSON: use "double" quotes inside the argument' : undefined);
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail('text after the JSON value');
    return undefined;
  } catch (err) {
    if (err instanceof Stop) return { offset: err.offset, what: err.what };
    throw err;
  }
}

/** Registry config from `<type>://<address>[?key=value&...]`; `local:///abs/dir` gives `{ type: 'local', dir }`. */
export function parseRegistryOption(text: string): Record<string, unknown> {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^?#]*)(?:\?([^#]*))?$/.exec(text.trim());
  if (!m) throw CliErrors.BAD_TARGET(`--registry ${JSON.stringify(text)} is not <type>://<address>`);
  const [, rawType, address, query] = m;
  const type = rawType.toLowerCase();
  const registry: Record<string, unknown> = { type };
  if (type === 'local') {
    const dir = decodeURIComponent(address);
    if (dir !== '' && !path.isAbsolute(dir)) {
      throw CliErrors.BAD_TARGET(`--registry ${text}: a local registry is local:///absolute/dir (three slashes), not a relative path`);
    }
    if (dir !== '') registry.dir = dir;
  } else {
    if (address === '') throw CliErrors.BAD_TARGET(`--registry ${text} names no address (host:port)`);
    registry.address = decodeURIComponent(address);
  }
  for (const part of (query ?? '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const raw = eq < 0 ? 'true' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    registry[key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === 'true' ? true : raw === 'false' ? false : raw;
  }
  return registry;
}

/** A provider URL for `--url`: `<protocol>://host:port`, several comma separated. */
export function checkUrlOption(text: string): string {
  for (const one of text.split(',')) {
    if (!/^[a-z][a-z0-9+.-]*:\/\/(\[[^\]]+\]|[^:/?#\s]+):\d{1,5}(\/[^\s]*)?$/i.test(one.trim())) {
      throw CliErrors.BAD_TARGET(`--url ${JSON.stringify(one)} is not <protocol>://host:port`);
    }
  }
  return text;
}

/** A whole number within [min, max] from an option's text; PLEXUS_ERR_CLI_BAD_OPTION otherwise. */
export function intOption(option: string, min: number, max: number): (text: string) => number {
  return (text: string) => {
    if (!/^\d+$/.test(text.trim())) throw CliErrors.BAD_OPTION(option, `must be a whole number, not ${JSON.stringify(text)}`);
    const n = Number(text);
    if (n < min || n > max) throw CliErrors.BAD_OPTION(option, `must be between ${min} and ${max}, not ${n}`);
    return n;
  };
}

/**
 * A bounded pre-scan of a JSON body: one linear pass over the UTF-8 bytes that builds nothing,
 * run before `JSON.parse`. It counts nesting and values inside arrays and objects, skipping
 * strings (with their escapes); it does not validate the JSON, which `JSON.parse` does next.
 * Structural bytes (`[ ] { } , "`) are ASCII and never occur inside a multi-byte UTF-8 sequence,
 * so scanning bytes is exact.
 */

/** What the last failed {@link scanJson} passed: the limit, and the byte offset where it did. */
export const jsonScanFault = { at: 0 };

export const JsonScan = { OK: 0, DEPTH: 1, ELEMENTS: 2 } as const;
export type JsonScan = (typeof JsonScan)[keyof typeof JsonScan];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** Bytes that are whitespace in JSON. */
const SPACE = new Uint8Array(256);
SPACE[0x20] = 1;
SPACE[0x09] = 1;
SPACE[0x0a] = 1;
SPACE[0x0d] = 1;

/**
 * Checks that `b` nests at most `maxDepth` containers and holds at most `maxElements` array items
 * plus object entries. Returns {@link JsonScan.OK} or the limit passed.
 */
export function scanJson(b: Uint8Array, maxDepth: number, maxElements: number): JsonScan {
  const end = b.length;
  let depth = 0;
  let elements = 0;
  // true right after `[` or `{`: the next significant byte, unless it closes, is the first item
  let fresh = false;
  let p = 0;
  while (p < end) {
    const c = b[p];
    if (SPACE[c]) {
      p++;
      continue;
    }
    if (fresh) {
      fresh = false;
      if (c !== CLOSE_ARRAY && c !== CLOSE_OBJECT && ++elements > maxElements) return fail(JsonScan.ELEMENTS, p);
    }
    if (c === QUOTE) {
      // to the closing quote: a quote preceded by an odd run of backslashes is escaped
      p++;
      for (;;) {
        while (p < end && b[p] !== QUOTE) p++;
        if (p >= end) return JsonScan.OK; // unterminated: JSON.parse reports it
        let k = p - 1;
        while (b[k] === BACKSLASH) k--;
        if (((p - 1 - k) & 1) === 0) break;
        p++;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return fail(JsonScan.DEPTH, p);
      fresh = true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === COMMA) {
      if (depth > 0 && ++elements > maxElements) return fail(JsonScan.ELEMENTS, p);
    }
    p++;
  }
  return JsonScan.OK;
}

function fail(result: JsonScan, at: number): JsonScan {
  jsonScanFault.at = at;
  return result;
}

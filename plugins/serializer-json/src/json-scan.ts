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
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** What a byte outside strings means to the scan; 0 (most bytes) means nothing. */
const CLASS = new Uint8Array(256);
const K_QUOTE = 1;
const K_OPEN = 2;
const K_CLOSE = 3;
const K_COMMA = 4;
CLASS[QUOTE] = K_QUOTE;
CLASS[0x5b] = K_OPEN;
CLASS[0x7b] = K_OPEN;
CLASS[CLOSE_ARRAY] = K_CLOSE;
CLASS[CLOSE_OBJECT] = K_CLOSE;
CLASS[0x2c] = K_COMMA;

/** Bytes that are whitespace in JSON. */
const SPACE = new Uint8Array(256);
SPACE[0x20] = 1;
SPACE[0x09] = 1;
SPACE[0x0a] = 1;
SPACE[0x0d] = 1;

/**
 * Checks that `b` nests at most `maxDepth` containers and holds at most `maxElements` array items
 * plus object entries. Returns {@link JsonScan.OK} or the limit passed. Items are counted as
 * commas inside containers plus one for each container that is not empty.
 */
export function scanJson(b: Uint8Array, maxDepth: number, maxElements: number): JsonScan {
  const end = b.length;
  let depth = 0;
  let elements = 0;
  let p = 0;
  while (p < end) {
    const k = CLASS[b[p++]];
    if (k === 0) continue;
    if (k === K_QUOTE) {
      // to the closing quote: a quote preceded by an odd run of backslashes is escaped
      for (;;) {
        while (p < end && b[p] !== QUOTE) p++;
        if (p >= end) return JsonScan.OK; // unterminated: JSON.parse reports it
        let q = p - 1;
        while (b[q] === BACKSLASH) q--;
        p++;
        if (((p - 2 - q) & 1) === 0) break;
      }
    } else if (k === K_OPEN) {
      if (++depth > maxDepth) return fail(JsonScan.DEPTH, p - 1);
      while (p < end && SPACE[b[p]]) p++;
      // a container that does not close at once holds a first item
      if (p < end && b[p] !== CLOSE_ARRAY && b[p] !== CLOSE_OBJECT && ++elements > maxElements) return fail(JsonScan.ELEMENTS, p);
    } else if (k === K_CLOSE) {
      depth--;
    } else if (depth > 0 && ++elements > maxElements) {
      return fail(JsonScan.ELEMENTS, p - 1);
    }
  }
  return JsonScan.OK;
}

function fail(result: JsonScan, at: number): JsonScan {
  jsonScanFault.at = at;
  return result;
}

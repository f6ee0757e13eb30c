/**
 * A bounded pre-scan of a MessagePack body: one linear pass over the bytes that builds nothing,
 * run before msgpackr decodes. msgpackr trusts length prefixes (a 6-byte body declaring an array of
 * 2^25 items makes it allocate 256 MiB before it notices the bytes are missing); after this scan
 * every declared length is known to fit in the bytes present and the body is known to stay within
 * the depth and element limits, so decoding costs a bounded multiple of the body's size.
 *
 * It knows msgpackr's own extensions: `Set`, `Error` and `RegExp` (a one-byte tag followed by one
 * more value, counted as a level of nesting), typed arrays, big integers, timestamps and
 * `undefined` (opaque bytes). Record definitions, bundled strings and structured-clone references
 * are refused: this serializer never writes them, and they would let a body define how later bytes
 * decode. Other extension types are treated as opaque bytes of their declared length.
 */

/** What the last failed {@link scanMsgpack} found. Valid until the next call. */
export const scanFault = {
  /** Byte offset of the value at fault. */
  at: 0,
  /** The declared length or the limit that was passed. */
  value: 0,
  /** Bytes that were left when a length was declared. */
  left: 0,
  /** Extension type, for {@link ScanResult.BAD_EXTENSION}. */
  type: 0,
};

export const ScanResult = {
  OK: 0,
  /** The body ends inside a value. */
  TRUNCATED: 1,
  /** A string, binary, extension or container declares more than the bytes left can hold. */
  TOO_LONG: 2,
  /** Bytes after the one top-level value. */
  TRAILING: 3,
  /** An extension this serializer refuses to decode (records, bundles, references). */
  BAD_EXTENSION: 4,
  /** Nesting deeper than `maxDepth`. */
  DEPTH: 5,
  /** More than `maxElements` array items and map entries. */
  ELEMENTS: 6,
  /** A big integer of more than {@link MAX_BIGINT_BYTES} bytes. */
  BIGINT: 7,
} as const;
export type ScanResult = (typeof ScanResult)[keyof typeof ScanResult];

/** Extensions that read the value after their tag: Set (`s`), Error (`e`), RegExp (`x`). */
const WRAPS_NEXT = new Uint8Array(256);
WRAPS_NEXT[0x73] = 1;
WRAPS_NEXT[0x65] = 1;
WRAPS_NEXT[0x78] = 1;
/** Refused: record definition (`r`), bundled strings (`b`), structured-clone id (`i`) and pointer (`p`). */
const REFUSED = new Uint8Array(256);
REFUSED[0x72] = 1;
REFUSED[0x62] = 1;
REFUSED[0x69] = 1;
REFUSED[0x70] = 1;

/**
 * Largest big-integer extension accepted, in bytes (32 768 bits; RSA-4096 needs 512). msgpackr
 * builds a big integer in time that grows faster than its length (4 MiB: ~150 ms), so one huge
 * value would block the event loop; below this size decoding stays linear in the body.
 */
export const MAX_BIGINT_BYTES = 4096;
const BIGINT_TYPE = 0x42;

/**
 * Items still to read at each open level; reused (the scan is synchronous and never re-entered).
 * Int32 is enough: a count is pushed only once it is known to fit in the bytes left.
 */
let pending = new Int32Array(128);

/**
 * Scans `b[start .. end)` (default: all of `b`) as one MessagePack value. Returns
 * {@link ScanResult.OK} or the first fault, with the details in {@link scanFault} (`at` counted
 * from `start`). Never allocates on the success path; time is linear in `end - start`.
 */
export function scanMsgpack(b: Uint8Array, maxDepth: number, maxElements: number, start = 0, end = b.length): ScanResult {
  const result = scan(b, maxDepth, maxElements, start, end);
  if (result !== ScanResult.OK) scanFault.at -= start;
  return result;
}

function scan(b: Uint8Array, maxDepth: number, maxElements: number, start: number, end: number): ScanResult {
  if (pending.length <= maxDepth) pending = new Int32Array(maxDepth + 1);
  const stack = pending;
  let p = start;
  // open containers; stack[i] holds the items left in container i's parent while i is read
  let depth = 0;
  // items left to read at the current level (the top level holds one value)
  let left = 1;
  let elements = 0;
  for (;;) {
    if (p >= end) return fault(ScanResult.TRUNCATED, p, 0, 0);
    const at = p;
    const t = b[p++];
    // items of a container opened by this token (-1: not a container)
    let items = -1;
    let count = 0;
    if ((t & 0xe0) === 0xa0) {
      p += t & 0x1f; // fixstr
    } else if (t < 0x80 || t >= 0xe0) {
      // fixint
    } else if (t < 0x90) {
      count = t & 0x0f;
      items = count * 2;
    } else if (t < 0xa0) {
      count = t & 0x0f;
      items = count;
    } else {
      switch (t) {
        case 0xc0:
        case 0xc1:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc4: // bin 8
        case 0xd9: // str 8
          if (p + 1 > end) return fault(ScanResult.TRUNCATED, at, 0, 0);
          p += 1 + b[p];
          break;
        case 0xc5:
        case 0xda:
          if (p + 2 > end) return fault(ScanResult.TRUNCATED, at, 0, 0);
          p += 2 + ((b[p] << 8) | b[p + 1]);
          break;
        case 0xc6:
        case 0xdb:
          if (p + 4 > end) return fault(ScanResult.TRUNCATED, at, 0, 0);
          p += 4 + u32(b, p);
          break;
        case 0xc7: // ext 8, 16, 32: length, type, data
        case 0xc8:
        case 0xc9: {
          const lenBytes = t === 0xc7 ? 1 : t === 0xc8 ? 2 : 4;
          if (p + lenBytes + 1 > end) return fault(ScanResult.TRUNCATED, at, 0, 0);
          const len = lenBytes === 1 ? b[p] : lenBytes === 2 ? (b[p] << 8) | b[p + 1] : u32(b, p);
          p += lenBytes;
          const type = b[p++];
          if (REFUSED[type]) return fault(ScanResult.BAD_EXTENSION, at, 0, 0, type);
          if (len > end - p) return fault(ScanResult.TOO_LONG, at, len, end - p);
          if (type === BIGINT_TYPE && len > MAX_BIGINT_BYTES) return fault(ScanResult.BIGINT, at, len, 0);
          p += len;
          if (WRAPS_NEXT[type]) items = 1;
          break;
        }
        case 0xca:
        case 0xce:
        case 0xd2:
          p += 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          p += 8;
          break;
        case 0xcc:
        case 0xd0:
          p += 1;
          break;
        case 0xcd:
        case 0xd1:
          p += 2;
          break;
        case 0xd4: // fixext 1, 2, 4, 8, 16: type, data
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
          if (p + 1 > end) return fault(ScanResult.TRUNCATED, at, 0, 0);
          const type = b[p];
          if (REFUSED[type]) return fault(ScanResult.BAD_EXTENSION, at, 0, 0, type);
          p += 1 + (1 << (t - 0xd4));
          if (WRAPS_NEXT[type]) items = 1;
          break;
        }
        case 0xdc: // array 16, 32
        case 0xdd:
        case 0xde: // map 16, 32
        case 0xdf: {
          const lenBytes = t === 0xdc || t === 0xde ? 2 : 4;
          if (p + lenBytes > end) return fault(ScanResult.TRUNCATED, at, 0, 0);
          count = lenBytes === 2 ? (b[p] << 8) | b[p + 1] : u32(b, p);
          p += lenBytes;
          items = t <= 0xdd ? count : count * 2;
          break;
        }
      }
    }
    if (p > end) return fault(ScanResult.TOO_LONG, at, p - at, end - at);
    left--;
    if (items >= 0) {
      if (depth + 1 > maxDepth) return fault(ScanResult.DEPTH, at, maxDepth, 0);
      // every item takes at least one byte: a count the remaining bytes cannot hold is a lie
      if (items > end - p) return fault(ScanResult.TOO_LONG, at, count, end - p);
      elements += count;
      if (elements > maxElements) return fault(ScanResult.ELEMENTS, at, maxElements, 0);
      if (items > 0) {
        stack[depth++] = left;
        left = items;
      }
    }
    while (left === 0) {
      if (depth === 0) return p === end ? ScanResult.OK : fault(ScanResult.TRAILING, p, end - p, 0);
      left = stack[--depth];
    }
  }
}

function u32(b: Uint8Array, p: number): number {
  return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}

function fault(result: ScanResult, at: number, value: number, left: number, type = 0): ScanResult {
  scanFault.at = at;
  scanFault.value = value;
  scanFault.left = left;
  scanFault.type = type;
  return result;
}

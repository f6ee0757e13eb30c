/**
 * A small non-cryptographic 32-bit hash for consistent hashing: FNV-1a over 16-bit units, then
 * murmur3's finaliser so that nearby inputs (`10.0.0.1:20880#1`, `#2`, ...) land far apart on the
 * ring. Written to hash call arguments in place — strings by their char codes, numbers by their
 * bits — so a select allocates nothing for string and number keys. Not for anything an attacker
 * must not predict: the ring only spreads keys. Internal to this package.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Separators and type tags fed between values, so `["ab", "c"]` and `["a", "bc"]` differ. */
const TAG_STRING = 0x10001;
const TAG_NUMBER = 0x10002;
const TAG_BOOLEAN = 0x10003;
const TAG_NULL = 0x10004;
const TAG_UNDEFINED = 0x10005;
const TAG_BYTES = 0x10006;
const TAG_OTHER = 0x10007;

const float = new Float64Array(1);
const floatWords = new Uint32Array(float.buffer);

/** The hash state before anything is fed. */
export function hashStart(): number {
  return FNV_OFFSET;
}

/** Feeds one unit (up to 32 bits, taken as two 16-bit halves). */
export function hashUnit(h: number, unit: number): number {
  h = Math.imul(h ^ (unit & 0xffff), FNV_PRIME);
  return Math.imul(h ^ (unit >>> 16), FNV_PRIME);
}

/** Feeds a string's UTF-16 code units. */
export function hashString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

/** The final 32-bit hash, well mixed (murmur3 fmix32), as an unsigned number. */
export function hashEnd(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash of one string, start to end. */
export function hashOf(s: string): number {
  return hashEnd(hashString(hashStart(), s));
}

/**
 * Feeds one call argument. Strings, numbers, booleans, null/undefined and byte arrays are hashed
 * in place; a bigint by its decimal text; anything else (objects, arrays) by its JSON text — which
 * allocates, and is the caller's choice of key — or, when it has none (cycles), by a constant, so
 * such keys all land on one provider rather than failing the call.
 */
export function hashValue(h: number, value: unknown): number {
  switch (typeof value) {
    case 'string':
      return hashString(hashUnit(h, TAG_STRING), value);
    case 'number':
      h = hashUnit(h, TAG_NUMBER);
      // -0 and 0 are the same key, as are the two spellings of an integer.
      if (Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff) return hashUnit(h, value | 0);
      float[0] = value;
      return hashUnit(hashUnit(h, floatWords[0]), floatWords[1]);
    case 'boolean':
      return hashUnit(hashUnit(h, TAG_BOOLEAN), value ? 1 : 0);
    case 'undefined':
      return hashUnit(h, TAG_UNDEFINED);
    case 'bigint':
      return hashString(hashUnit(h, TAG_NUMBER), value.toString());
    default:
      break;
  }
  if (value === null) return hashUnit(h, TAG_NULL);
  if (value instanceof Uint8Array) {
    h = hashUnit(h, TAG_BYTES);
    for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value[i], FNV_PRIME);
    return h;
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  return text === undefined ? hashUnit(h, TAG_OTHER) : hashString(hashUnit(h, TAG_OTHER), text);
}

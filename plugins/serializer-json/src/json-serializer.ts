import {
  DECODE_LIMITS_SCHEMA,
  decodeLimitError,
  definePlugin,
  resolveDecodeLimits,
  RpcCode,
  RpcError,
  type DecodeLimits,
  type Serializer,
} from '@plexus/kernel/spi';
import { JsonScan, scanJson } from './json-scan';

/**
 * Options of {@link JsonSerializer}: the decode limits `maxDepth` and `maxElements` (see
 * `DecodeLimits` in `@plexus/kernel/spi`: defaults 100 and 1 000 000).
 */
export type JsonSerializerOptions = DecodeLimits;

/** JSON schema of {@link JsonSerializerOptions}, checked by the loader. */
export const JSON_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { ...DECODE_LIMITS_SCHEMA },
} as const;

/**
 * JSON serializer: UTF-8 JSON text, readable by any peer, curl and browsers.
 *
 * It is plain `JSON.stringify` / `JSON.parse`, so types map as JSON maps them, deterministically:
 * - `Date` → its ISO-8601 string; it arrives as a string (msgpack keeps a `Date`).
 * - `Buffer` → `{"type":"Buffer","data":[...bytes]}` (Node's own `toJSON`); it arrives as that
 *   plain object: rebuild with `Buffer.from(value.data)`. Other typed arrays, `Uint8Array`
 *   included, encode as objects keyed by index: wrap them in a `Buffer` first.
 * - `undefined` at the top level → `null`; in objects the key is dropped, in arrays it is `null`.
 * - `NaN` and `±Infinity` → `null`; `Map` and `Set` → `{}`.
 * - `bigint` and cyclic values cannot be encoded: `serialize` throws (code SERIALIZATION).
 *
 * Safety: a decoded `__proto__` key is dropped, so a body cannot replace a prototype (nor set one
 * later through `Object.assign` or a deep merge). The check costs a substring scan; only bodies
 * that spell `__proto__` (plainly or with `\u` escapes) take the slower, filtering parse.
 *
 * Bounds: before `JSON.parse`, a linear pre-scan of the bytes (`json-scan.ts`, no allocation)
 * enforces `maxDepth` and `maxElements`, so a body cannot make the parser build millions of
 * objects. `JSON.parse` itself never allocates ahead of the text it has read.
 *
 * Scope: one instance per application; stateless and re-entrant.
 */
export class JsonSerializer implements Serializer {
  readonly id = 1;
  readonly name = 'json';
  private readonly maxDepth: number;
  private readonly maxElements: number;

  constructor(options: JsonSerializerOptions = {}) {
    const limits = resolveDecodeLimits(options);
    this.maxDepth = limits.maxDepth;
    this.maxElements = limits.maxElements;
  }

  serialize(value: unknown): Uint8Array {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw new RpcError(
        `json: cannot encode the value (${messageOf(err)}); JSON has no bigint or cycles: convert bigint to string, or use serializer msgpack`,
        RpcCode.SERIALIZATION,
        { reason: 'PLEXUS_ERR_SERIALIZER_ENCODE', cause: err },
      );
    }
    // JSON.stringify answers undefined for undefined, functions and symbols: send JSON null.
    return Buffer.from(text ?? 'null', 'utf8');
  }

  deserialize(bytes: Uint8Array, limits?: DecodeLimits): unknown {
    const maxDepth = limits?.maxDepth ?? this.maxDepth;
    const maxElements = limits?.maxElements ?? this.maxElements;
    // A valid body of L bytes nests at most L/2 levels and holds at most (L+1)/2 items; an
    // invalid one JSON.parse refuses at a cost bounded by L. So small bodies skip the scan.
    const scan = bytes.length <= 2 * Math.min(maxDepth, maxElements) ? JsonScan.OK : scanJson(bytes, maxDepth, maxElements);
    if (scan !== JsonScan.OK) {
      throw scan === JsonScan.DEPTH
        ? decodeLimitError('json', 'maxDepth', maxDepth, bytes.length)
        : decodeLimitError('json', 'maxElements', maxElements, bytes.length);
    }
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const text = buf.toString('utf8');
    try {
      return mayHoldProtoKey(text) ? JSON.parse(text, dropProtoKeys) : JSON.parse(text);
    } catch (err) {
      throw new RpcError(
        `json: cannot decode a ${bytes.length}-byte body (${messageOf(err)}); check that the peer sends UTF-8 JSON with serializer json (id 1)`,
        RpcCode.SERIALIZATION,
        { reason: 'PLEXUS_ERR_SERIALIZER_DECODE', cause: err },
      );
    }
  }
}

/** `"__proto__"` with any of its characters written as a `\u` escape. */
const ESCAPED_PROTO = /"(?:_|\\u005[fF]){2}(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[fF])(?:t|\\u0074)(?:o|\\u006[fF])(?:_|\\u005[fF]){2}"/;

/**
 * Whether a body may hold a `__proto__` key. Plain substring scans first (fast); the regex runs
 * only on bodies with `\u` escapes, as ASCII-only encoders (Python's default, for one) write them.
 */
function mayHoldProtoKey(text: string): boolean {
  return text.includes('__proto__') || (text.includes('\\u') && ESCAPED_PROTO.test(text));
}

/** A reviver's `undefined` deletes the key from its holder. */
function dropProtoKeys(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/** The message of whatever was thrown (a value's getter or Proxy may throw anything); never throws. */
function messageOf(err: unknown): string {
  return RpcError.fromThrown(err).message;
}

export default definePlugin({
  name: '@plexus/serializer-json',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'serializer',
      name: 'json',
      id: 1,
      optionsSchema: JSON_OPTIONS_SCHEMA,
      create: (ctx) => new JsonSerializer(ctx.options as JsonSerializerOptions),
    },
  ],
});

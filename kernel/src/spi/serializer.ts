import { RpcCode, RpcError } from '../errors/rpc-error';

export const SERIALIZER = Symbol.for('plexus.serializer');
export const DEFAULT_SERIALIZER = 'msgpack';

/**
 * Bounds on what one decoded body may build. A body comes from a peer, so without them a few KiB
 * can declare millions of objects or a nesting deep enough to exhaust the stack. Both sides apply
 * them: the provider to requests, the consumer to responses.
 */
export interface DecodeLimits {
  /**
   * Deepest nesting of containers (arrays, objects/maps, msgpack's Set/Error/RegExp wrappers).
   * A top-level array is depth 1. Default {@link DEFAULT_DECODE_LIMITS}`.maxDepth` (100, the
   * recursion limit protobuf decoders use): far beyond real documents, far below a stack overflow.
   */
  maxDepth?: number;
  /**
   * Most array items plus object (map) entries in one body, summed over every container.
   * Default 1 000 000: an 8 MiB body of numbers fits; 8 MiB of `{}` tokens (8 M objects, about
   * half a GiB of heap) does not.
   */
  maxElements?: number;
}

/** Defaults of {@link DecodeLimits}. */
export const DEFAULT_DECODE_LIMITS: Readonly<Required<DecodeLimits>> = Object.freeze({ maxDepth: 100, maxElements: 1_000_000 });

/**
 * JSON-schema properties of {@link DecodeLimits}, for a serializer plugin's options schema:
 * `properties: { ...DECODE_LIMITS_SCHEMA, ...own }`.
 */
export const DECODE_LIMITS_SCHEMA = {
  maxDepth: { type: 'integer', minimum: 1, maximum: 10_000, default: DEFAULT_DECODE_LIMITS.maxDepth },
  maxElements: { type: 'integer', minimum: 1, default: DEFAULT_DECODE_LIMITS.maxElements },
} as const;

/**
 * The limits in force: `call` (per call) over `instance` (the serializer's options) over the
 * defaults. Values that are not positive integers fall back to the next level.
 */
export function resolveDecodeLimits(instance?: DecodeLimits, call?: DecodeLimits): Required<DecodeLimits> {
  const pick = (key: keyof DecodeLimits): number => {
    for (const v of [call?.[key], instance?.[key]]) if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
    return DEFAULT_DECODE_LIMITS[key];
  };
  return { maxDepth: pick('maxDepth'), maxElements: pick('maxElements') };
}

/** `reason` of the error a serializer throws when a body exceeds a {@link DecodeLimits} bound. */
export const SERIALIZER_LIMIT_REASON = 'PLEXUS_ERR_SERIALIZER_LIMIT';

/**
 * The error a serializer throws when a body exceeds one of its {@link DecodeLimits}: code
 * `SERIALIZATION`, reason `PLEXUS_ERR_SERIALIZER_LIMIT`, not retryable (the same body fails
 * everywhere).
 */
export function decodeLimitError(serializer: string, limit: keyof DecodeLimits, value: number, bytes: number): RpcError {
  const what = limit === 'maxDepth' ? `nests containers deeper than ${value}` : `holds more than ${value} array items and object entries`;
  return new RpcError(
    `${serializer}: a ${bytes}-byte body ${what} (${limit}); refused before decoding. Send less per call, or raise extensions.serializer.${serializer}.${limit} on the receiving side`,
    RpcCode.SERIALIZATION,
    { reason: SERIALIZER_LIMIT_REASON, retryable: false, data: { limit, value } },
  );
}

/**
 * Turns call arguments and results into bytes. Scope: one instance per application, shared by all
 * connections; must be stateless between calls and safe to call re-entrantly. `id` (0–255) travels
 * in every message header so the peer decodes with the same serializer; ids are unique per point.
 *
 * `deserialize` reads bytes from a peer, which may be hostile. It must:
 * - never let `__proto__` or `constructor` keys reach a prototype;
 * - check every declared length (string, binary, container) against the bytes present before it
 *   allocates for it, so a small body cannot make it allocate a large one;
 * - enforce {@link DecodeLimits} (`limits` when given, else the instance's own options, else
 *   {@link DEFAULT_DECODE_LIMITS}) and throw {@link decodeLimitError} past them;
 * - spend time linear in `bytes.length`, and throw an `RpcError` (`SERIALIZATION`) on bad input.
 */
export interface Serializer {
  readonly id: number;
  readonly name: string;
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array, limits?: DecodeLimits): unknown;
  /**
   * Optional, for protocols that frame bytes themselves: `serialize` into the serializer's own
   * scratch, with no buffer made for the result. The bytes are `range.bytes[range.start ..
   * range.end)`, equal to what `serialize` returns; they and the returned object stay valid only
   * until the next call of this serializer, so copy them out first.
   */
  serializeScratch?(value: unknown): EncodedRange;
  /**
   * Optional: `deserialize(bytes.subarray(start, end), limits)` without making the view. Same
   * result, same errors, same rules for hostile input. `start..end` must lie within `bytes`.
   */
  deserializeRange?(bytes: Uint8Array, start: number, end: number, limits?: DecodeLimits): unknown;
}

/** Where {@link Serializer.serializeScratch} put its bytes: `bytes[start .. end)`. */
export interface EncodedRange {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
}

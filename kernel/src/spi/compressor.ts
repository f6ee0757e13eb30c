export const COMPRESSOR = Symbol.for('plexus.compressor');
export const DEFAULT_COMPRESSOR = 'identity';
/** Bodies smaller than this many bytes are sent uncompressed: compressing them costs more than it saves. */
export const DEFAULT_COMPRESS_THRESHOLD = 1024;

/**
 * Compresses message bodies. Scope: one instance per application; stateless, re-entrant.
 * `id` (0–255) travels in every message header; `identity` is id 0.
 * `decompress` must refuse (throw) output larger than `maxOutput` when given.
 */
export interface Compressor {
  readonly id: number;
  readonly name: string;
  compress(bytes: Uint8Array): Uint8Array;
  decompress(bytes: Uint8Array, maxOutput?: number): Uint8Array;
}

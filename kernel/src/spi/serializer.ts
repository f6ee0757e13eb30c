export const SERIALIZER = Symbol.for('plexus.serializer');
export const DEFAULT_SERIALIZER = 'msgpack';

/**
 * Turns call arguments and results into bytes. Scope: one instance per application, shared by all
 * connections; must be stateless between calls and safe to call re-entrantly. `id` (0–255) travels
 * in every message header so the peer decodes with the same serializer; ids are unique per point.
 * `deserialize` must never let `__proto__` or `constructor` keys reach a prototype.
 */
export interface Serializer {
  readonly id: number;
  readonly name: string;
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

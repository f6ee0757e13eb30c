import { compressSync, uncompressSync } from 'snappy';
import { definePlugin, RpcCode, RpcError, type Compressor } from '@plexus/kernel/spi';

/** Options of {@link SnappyCompressor}; all optional. */
export interface SnappyCompressorOptions {
  /**
   * Largest body `decompress` produces when its caller passes no `maxOutput`, in bytes.
   * Default 64 MiB: eight times the protocol's default payload limit, and a bound on what a
   * 5-byte hostile header can make this process allocate.
   */
  maxOutput?: number;
}

/** Default of {@link SnappyCompressorOptions.maxOutput}. */
export const SNAPPY_DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

/** JSON schema of {@link SnappyCompressorOptions}, checked by the loader. */
export const SNAPPY_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { maxOutput: { type: 'integer', minimum: 0, maximum: 0xffffffff, default: SNAPPY_DEFAULT_MAX_OUTPUT } },
} as const;

const DECODE_OPTIONS = { asBuffer: true } as const;

/**
 * Snappy compressor (raw, one-shot Snappy format, as `snappy`'s `compressSync` writes it).
 *
 * A Snappy body starts with the uncompressed length as a varint; `decompress` reads it and refuses
 * a body above `maxOutput` before the native decoder allocates anything.
 *
 * Scope: one instance per application; stateless and re-entrant.
 */
export class SnappyCompressor implements Compressor {
  readonly id = 3;
  readonly name = 'snappy';
  private readonly maxOutput: number;

  constructor(options: SnappyCompressorOptions = {}) {
    this.maxOutput = options.maxOutput ?? SNAPPY_DEFAULT_MAX_OUTPUT;
  }

  compress(bytes: Uint8Array): Uint8Array {
    return compressSync(bytes);
  }

  decompress(bytes: Uint8Array, maxOutput?: number): Uint8Array {
    const length = declaredLength(bytes);
    const limit = maxOutput ?? this.maxOutput;
    if (length > limit) {
      throw new RpcError(
        `snappy: body decompresses to ${length} bytes, above the limit of ${limit}; raise the payload limit (compressor option maxOutput) if such bodies are expected`,
        RpcCode.PAYLOAD_TOO_LARGE,
        { reason: 'PLEXUS_ERR_COMPRESSOR_TOO_LARGE' },
      );
    }
    // A Snappy copy element of 3 bytes yields at most 64 bytes (~21.3:1), so a larger declared
    // length is a lie: refused before the native decoder allocates it.
    if (length > bytes.length * MAX_RATIO + 64) {
      throw corrupt(`header says ${length} bytes, more than ${bytes.length} compressed bytes can hold`);
    }
    let out: Buffer;
    try {
      out = uncompressSync(bytes, DECODE_OPTIONS) as Buffer;
    } catch (err) {
      throw corrupt(err instanceof Error ? err.message : String(err), err);
    }
    // The decoder writes exactly the declared length or fails; checked in case a build does not.
    if (out.length !== length) throw corrupt(`output holds ${out.length} bytes, header says ${length}`);
    return out;
  }
}

/** Bound on output bytes per input byte of a Snappy body (64 bytes from a 3-byte copy, rounded up). */
const MAX_RATIO = 22;

/** Reads the leading varint (at most 5 bytes for 32 bits) that holds the uncompressed length. */
function declaredLength(bytes: Uint8Array): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= bytes.length) throw corrupt('body ends inside its length header');
    const b = bytes[i];
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) {
      if (value > 0xffffffff) break;
      return value;
    }
  }
  throw corrupt('length header is not a 32-bit varint');
}

function corrupt(detail: string, cause?: unknown): RpcError {
  return new RpcError(
    `snappy: body is not valid snappy data (${detail}); check that the peer compresses with snappy (id 3) and the body arrived whole`,
    RpcCode.SERIALIZATION,
    { reason: 'PLEXUS_ERR_COMPRESSOR_CORRUPT', cause },
  );
}

export default definePlugin({
  name: '@plexus/compressor-snappy',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'compressor',
      name: 'snappy',
      id: 3,
      optionsSchema: SNAPPY_OPTIONS_SCHEMA,
      create: (ctx) => new SnappyCompressor(ctx.options as SnappyCompressorOptions),
    },
  ],
});

import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync, gzipSync, type ZlibOptions } from 'node:zlib';
import { defineError, definePlugin, RpcCode, RpcError, type Compressor } from '@plexus/kernel/spi';

/** A `level` outside zlib's range, given in code (config is checked by the options schema). */
export const GZIP_BAD_LEVEL = defineError(
  'PLEXUS_ERR_GZIP_LEVEL',
  (level: unknown) => `gzip: level must be an integer from -1 to 9, got ${String(level)}`,
  'use 1 for speed, 9 for size, or leave it unset for 6',
);

/** Options of {@link GzipCompressor}; all optional. */
export interface GzipCompressorOptions {
  /**
   * zlib level, 0 (store) to 9 (smallest), or -1 for zlib's default (6). Default 6: gzip is picked
   * for its ratio and for peers that only speak gzip; pick lz4 or snappy when speed matters.
   */
  level?: number;
  /**
   * Largest body `decompress` produces when its caller passes no `maxOutput`, in bytes.
   * Default 64 MiB: eight times the protocol's default payload limit; gzip reaches ratios above
   * 1000:1, so a small body could otherwise inflate to gigabytes.
   */
  maxOutput?: number;
}

/** Default of {@link GzipCompressorOptions.maxOutput}. */
export const GZIP_DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

/** JSON schema of {@link GzipCompressorOptions}, checked by the loader. */
export const GZIP_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    level: { type: 'integer', minimum: -1, maximum: 9, default: 6 },
    maxOutput: { type: 'integer', minimum: 0, default: GZIP_DEFAULT_MAX_OUTPUT },
  },
} as const;

/**
 * gzip compressor on `node:zlib` (RFC 1952 members, as `gzip`/`gunzip` and HTTP peers read them).
 *
 * `decompress` passes `maxOutput` to zlib as `maxOutputLength`, so inflation stops at the limit
 * instead of growing a buffer without bound.
 *
 * Scope: one instance per application; stateless and re-entrant (zlib's sync calls run on the
 * calling thread; a 1 MiB body at level 6 takes tens of milliseconds).
 */
export class GzipCompressor implements Compressor {
  readonly id = 1;
  readonly name = 'gzip';
  private readonly compressOptions: ZlibOptions;
  private readonly maxOutput: number;
  /** Options of the last limit used: callers pass the same limit call after call. */
  private decompressOptions: ZlibOptions;
  private decompressLimit: number;

  constructor(options: GzipCompressorOptions = {}) {
    const level = options.level ?? 6;
    if (!Number.isInteger(level) || level < -1 || level > 9) {
      throw GZIP_BAD_LEVEL(level);
    }
    this.maxOutput = options.maxOutput ?? GZIP_DEFAULT_MAX_OUTPUT;
    this.compressOptions = { level };
    this.decompressLimit = this.maxOutput;
    this.decompressOptions = zlibLimit(this.maxOutput);
  }

  compress(bytes: Uint8Array): Uint8Array {
    return gzipSync(bytes, this.compressOptions);
  }

  decompress(bytes: Uint8Array, maxOutput?: number): Uint8Array {
    const limit = maxOutput ?? this.maxOutput;
    if (limit !== this.decompressLimit) {
      this.decompressOptions = zlibLimit(limit);
      this.decompressLimit = limit;
    }
    let out: Buffer;
    try {
      out = gunzipSync(bytes, this.decompressOptions);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit, err);
      throw new RpcError(
        `gzip: body is not valid gzip data (${err instanceof Error ? err.message : String(err)}); check that the peer compresses with gzip (id 1) and the body arrived whole`,
        RpcCode.SERIALIZATION,
        { reason: 'PLEXUS_ERR_COMPRESSOR_CORRUPT', cause: err },
      );
    }
    if (out.length > limit) throw tooLarge(limit);
    return out;
  }
}

/** zlib takes a maxOutputLength from 1 to the largest Buffer; a limit of 0 is enforced after inflating. */
function zlibLimit(limit: number): ZlibOptions {
  return { maxOutputLength: Math.min(bufferConstants.MAX_LENGTH, Math.max(1, limit)) };
}

function tooLarge(limit: number, cause?: unknown): RpcError {
  return new RpcError(
    `gzip: body decompresses to more than ${limit} bytes; raise the payload limit (compressor option maxOutput) if such bodies are expected`,
    RpcCode.PAYLOAD_TOO_LARGE,
    { reason: 'PLEXUS_ERR_COMPRESSOR_TOO_LARGE', cause },
  );
}

export default definePlugin({
  name: '@plexus/compressor-gzip',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'compressor',
      name: 'gzip',
      id: 1,
      optionsSchema: GZIP_OPTIONS_SCHEMA,
      create: (ctx) => new GzipCompressor(ctx.options as GzipCompressorOptions),
    },
  ],
});

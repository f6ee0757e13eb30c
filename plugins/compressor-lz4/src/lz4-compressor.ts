import { decodeBlock, encodeBlock, encodeBound } from 'lz4';
import { definePlugin, RpcCode, RpcError, type Compressor } from '@plexus/kernel/spi';

/** Options of {@link Lz4Compressor}; all optional. */
export interface Lz4CompressorOptions {
  /**
   * Largest body `decompress` produces when its caller passes no `maxOutput`, in bytes.
   * Default 64 MiB: eight times the protocol's default payload limit, and a bound on what a
   * 5-byte hostile header can make this process allocate.
   */
  maxOutput?: number;
}

/** Default of {@link Lz4CompressorOptions.maxOutput}. */
export const LZ4_DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

/** JSON schema of {@link Lz4CompressorOptions}, checked by the loader. */
export const LZ4_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { maxOutput: { type: 'integer', minimum: 0, maximum: 0xffffffff, default: LZ4_DEFAULT_MAX_OUTPUT } },
} as const;

/** Frame: `[format: u8][original length: u32 LE][payload]`. */
const HEADER = 5;
/** Payload is the input itself: compression would not have made it smaller. */
const FORMAT_STORED = 0;
/** Payload is one LZ4 block. */
const FORMAT_BLOCK = 1;

/**
 * LZ4 compressor on the native block API of `lz4` (its frame API is an order of magnitude slower).
 *
 * Each body is one self-contained frame: a format byte, the original length as u32 little-endian,
 * then either an LZ4 block or, when LZ4 would not shrink the input (random or already compressed
 * data, tiny bodies), the input stored as is. The length prefix lets `decompress` allocate the exact
 * output once, and refuse a body above `maxOutput` before allocating anything.
 *
 * Scope: one instance per application; stateless and re-entrant. `decompress` of a stored frame
 * returns a view into its input (no copy).
 */
export class Lz4Compressor implements Compressor {
  readonly id = 2;
  readonly name = 'lz4';
  private readonly maxOutput: number;

  constructor(options: Lz4CompressorOptions = {}) {
    this.maxOutput = options.maxOutput ?? LZ4_DEFAULT_MAX_OUTPUT;
  }

  compress(bytes: Uint8Array): Uint8Array {
    const length = bytes.length;
    if (length > 0xffffffff) {
      throw new RpcError(`lz4: cannot compress a ${length}-byte body; an lz4 frame holds at most 4 GiB`, RpcCode.PAYLOAD_TOO_LARGE, {
        reason: 'PLEXUS_ERR_COMPRESSOR_TOO_LARGE',
      });
    }
    const out = Buffer.allocUnsafe(HEADER + encodeBound(length));
    const written = length === 0 ? 0 : encodeBlock(bytes, out, HEADER);
    if (written <= 0 || written >= length) return stored(bytes);
    out[0] = FORMAT_BLOCK;
    out.writeUInt32LE(length, 1);
    const size = HEADER + written;
    // A view would keep the whole worst-case allocation alive; copy when most of it is slack.
    return size < out.length >>> 1 ? Buffer.from(out.subarray(0, size)) : out.subarray(0, size);
  }

  decompress(bytes: Uint8Array, maxOutput?: number): Uint8Array {
    if (bytes.length < HEADER) throw corrupt(`${bytes.length} bytes is shorter than the ${HEADER}-byte header`);
    const format = bytes[0];
    const length = (bytes[1] | (bytes[2] << 8) | (bytes[3] << 16)) + bytes[4] * 0x1000000;
    const limit = maxOutput ?? this.maxOutput;
    if (length > limit) throw tooLarge(length, limit);
    if (format === FORMAT_BLOCK) {
      if (length === 0) throw corrupt('a compressed block of length 0');
      // An LZ4 block inflates at most ~255:1 (each extra match-length byte adds 255 bytes), so a
      // larger declared length is a lie: refused before it costs an allocation of that size.
      if (length > (bytes.length - HEADER) * MAX_RATIO + 64) {
        throw corrupt(`header says ${length} bytes, more than ${bytes.length - HEADER} compressed bytes can hold`);
      }
      const out = Buffer.allocUnsafe(length);
      const read = decodeBlock(bytes, out, HEADER);
      if (read !== length) throw corrupt(read < 0 ? 'malformed LZ4 block' : `block holds ${read} bytes, header says ${length}`);
      return out;
    }
    if (format === FORMAT_STORED) {
      if (bytes.length - HEADER !== length) throw corrupt(`stored frame holds ${bytes.length - HEADER} bytes, header says ${length}`);
      return bytes.subarray(HEADER);
    }
    throw corrupt(`unknown frame format ${format}`);
  }
}

/** Most output bytes one input byte of an LZ4 block can produce. */
const MAX_RATIO = 255;

function stored(bytes: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(HEADER + bytes.length);
  out[0] = FORMAT_STORED;
  out.writeUInt32LE(bytes.length, 1);
  out.set(bytes, HEADER);
  return out;
}

function corrupt(detail: string): RpcError {
  return new RpcError(
    `lz4: body is not a valid lz4 frame (${detail}); check that the peer compresses with lz4 (id 2) and the body arrived whole`,
    RpcCode.SERIALIZATION,
    { reason: 'PLEXUS_ERR_COMPRESSOR_CORRUPT' },
  );
}

function tooLarge(length: number, limit: number): RpcError {
  return new RpcError(
    `lz4: body decompresses to ${length} bytes, above the limit of ${limit}; raise the payload limit (compressor option maxOutput) if such bodies are expected`,
    RpcCode.PAYLOAD_TOO_LARGE,
    { reason: 'PLEXUS_ERR_COMPRESSOR_TOO_LARGE' },
  );
}

export default definePlugin({
  name: '@plexus/compressor-lz4',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'compressor',
      name: 'lz4',
      id: 2,
      optionsSchema: LZ4_OPTIONS_SCHEMA,
      create: (ctx) => new Lz4Compressor(ctx.options as Lz4CompressorOptions),
    },
  ],
});

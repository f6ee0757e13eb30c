import type { Compressor } from '../spi/compressor';

/** Options of {@link compressorContract}. */
export interface CompressorContractOptions {
  /**
   * Whether `decompress` can tell garbage from a body (default true). Only a pass-through such as
   * `identity` has no format to check and sets this to false.
   */
  rejectsGarbage?: boolean;
}

/** Deterministic bytes: a xorshift stream, so failures reproduce. */
function pseudoRandomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Text-like bytes that compress well, cut to exactly `size`. */
function textBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const words = ['plexus', 'invoke', 'provider', 'consumer', '{"id":', '"name":"ada",', 'registry', '\n', ' '];
  let pos = 0;
  let i = 0;
  while (pos < size) {
    const w = words[(i * 7 + (i >> 3)) % words.length] + String(i % 97);
    for (let k = 0; k < w.length && pos < size; k++) out[pos++] = w.charCodeAt(k);
    i++;
  }
  return out;
}

const KIB = 1024;
const MIB = 1024 * KIB;

function sameBytes(actual: Uint8Array, expected: Uint8Array): boolean {
  if (actual.length !== expected.length) return false;
  return Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(
    Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
  );
}

/**
 * The contract every {@link Compressor} must meet. Call it inside a jest test file:
 * `compressorContract('lz4', () => new Lz4Compressor())`. `create` is called once per
 * `describe`, so the suite also checks that one instance serves many calls (the SPI's scope).
 */
export function compressorContract(name: string, create: () => Compressor, options: CompressorContractOptions = {}): void {
  const rejectsGarbage = options.rejectsGarbage ?? true;

  describe(`compressor contract: ${name}`, () => {
    let compressor: Compressor;
    beforeAll(() => {
      compressor = create();
    });

    it('has a wire id in 0..255 and a non-empty name', () => {
      expect(Number.isInteger(compressor.id)).toBe(true);
      expect(compressor.id).toBeGreaterThanOrEqual(0);
      expect(compressor.id).toBeLessThanOrEqual(255);
      expect(typeof compressor.name).toBe('string');
      expect(compressor.name.length).toBeGreaterThan(0);
    });

    const samples: ReadonlyArray<readonly [string, () => Uint8Array]> = [
      ['empty input', () => new Uint8Array(0)],
      ['one byte', () => Uint8Array.of(0x2a)],
      ['100 B of text', () => textBytes(100)],
      ['10 KiB of text', () => textBytes(10 * KIB)],
      ['1 MiB of text', () => textBytes(MIB)],
      ['1 MiB of zeros', () => new Uint8Array(MIB)],
      ['100 B of random bytes', () => pseudoRandomBytes(100, 7)],
      ['256 KiB of random (incompressible) bytes', () => pseudoRandomBytes(256 * KIB, 11)],
    ];

    it.each(samples)('round-trips %s', (_label, make) => {
      const input = make();
      const packed = compressor.compress(input);
      expect(packed).toBeInstanceOf(Uint8Array);
      const unpacked = compressor.decompress(packed);
      expect(unpacked).toBeInstanceOf(Uint8Array);
      expect(sameBytes(unpacked, input)).toBe(true);
    });

    it('round-trips Uint8Array views with a non-zero offset, both ways', () => {
      const input = textBytes(4 * KIB);
      const host = new Uint8Array(input.length + 9);
      host.set(input, 9);
      const packed = compressor.compress(host.subarray(9));
      const packedHost = new Uint8Array(packed.length + 5);
      packedHost.set(packed, 5);
      expect(sameBytes(compressor.decompress(packedHost.subarray(5)), input)).toBe(true);
    });

    it('keeps earlier output intact when called again (no shared output buffer)', () => {
      const input = textBytes(2 * KIB);
      const a = compressor.compress(input);
      const snapshot = Uint8Array.from(a);
      for (let i = 1; i <= 20; i++) compressor.compress(pseudoRandomBytes(i * 100, i));
      expect(sameBytes(a, snapshot)).toBe(true);
      expect(sameBytes(compressor.decompress(a), input)).toBe(true);
    });

    it('accepts maxOutput equal to the original size', () => {
      const input = textBytes(10 * KIB);
      expect(sameBytes(compressor.decompress(compressor.compress(input), input.length), input)).toBe(true);
    });

    it('throws when the output would exceed maxOutput', () => {
      for (const input of [textBytes(10 * KIB), pseudoRandomBytes(10 * KIB, 3), new Uint8Array(MIB)]) {
        const packed = compressor.compress(input);
        expect(() => compressor.decompress(packed, input.length - 1)).toThrow();
        expect(() => compressor.decompress(packed, 0)).toThrow();
      }
    });

    it('never returns more than maxOutput bytes, even from damaged input', () => {
      const input = textBytes(64 * KIB);
      const packed = compressor.compress(input);
      const limit = 32 * KIB;
      for (let i = 0; i < 64; i++) {
        const damaged = Uint8Array.from(packed);
        const at = (i * 7919) % damaged.length;
        damaged[at] ^= 0x5a;
        let out: Uint8Array | undefined;
        try {
          out = compressor.decompress(damaged, limit);
        } catch {
          out = undefined;
        }
        if (out !== undefined) expect(out.length).toBeLessThanOrEqual(limit);
      }
    });

    if (rejectsGarbage) {
      it('throws on garbage input', () => {
        const garbage = [
          Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
          Uint8Array.of(0xff),
          pseudoRandomBytes(64, 5).map((b, i) => (i === 0 ? 0xff : b)),
        ];
        for (const g of garbage) expect(() => compressor.decompress(g)).toThrow();
      });

      it('throws on truncated input', () => {
        const input = textBytes(64 * KIB);
        const packed = compressor.compress(input);
        for (const cut of [1, Math.floor(packed.length / 2), packed.length - 1]) {
          expect(() => compressor.decompress(packed.subarray(0, cut))).toThrow();
        }
      });
    }
  });
}

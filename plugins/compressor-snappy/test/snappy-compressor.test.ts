import { uncompressSync } from 'snappy';
import { compressorContract, fakeExtensionContext } from '@plexus/kernel/testing';
import { RpcError, RpcCode } from '@plexus/kernel/spi';
import plugin, { SnappyCompressor } from '../src/snappy-compressor';

compressorContract('snappy', () => new SnappyCompressor());

const text = Buffer.from('{"id":42,"name":"ada","roles":["admin","ops"],"active":true}\n'.repeat(20_000));

function errorOf(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (err) {
    if (RpcError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a throw');
}

describe('SnappyCompressor', () => {
  const snappy = new SnappyCompressor();

  it('is compressor "snappy" with wire id 3', () => {
    expect(snappy.name).toBe('snappy');
    expect(snappy.id).toBe(3);
  });

  it('writes raw snappy that any snappy decoder reads, and shrinks text', () => {
    const packed = snappy.compress(text);
    expect(packed.length).toBeLessThan(text.length / 5);
    expect((uncompressSync(packed, { asBuffer: true }) as Buffer).equals(text)).toBe(true);
  });

  it('refuses a declared size above maxOutput from the varint header alone', () => {
    // varint 0xffffffff, followed by nothing the decoder could use
    const err = errorOf(() => snappy.decompress(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 0x00)));
    expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
    expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_TOO_LARGE');
    expect(err.message).toContain('4294967295');
  });

  it('uses its maxOutput option when the caller passes none, and the caller\'s when given', () => {
    const small = new SnappyCompressor({ maxOutput: 1000 });
    const packed = small.compress(text.subarray(0, 2000));
    expect(errorOf(() => small.decompress(packed)).reason).toBe('PLEXUS_ERR_COMPRESSOR_TOO_LARGE');
    expect(small.decompress(packed, 2000).length).toBe(2000);
  });

  it('refuses a declared size the compressed bytes cannot hold (over ~21:1) before the decoder allocates it', () => {
    const liar = Uint8Array.of(0x80, 0x80, 0x80, 0x04, 0x00, 0x01); // varint 8 MiB, then 2 bytes
    const err = errorOf(() => snappy.decompress(liar, 8 * 1024 * 1024));
    expect(err.code).toBe(RpcCode.SERIALIZATION);
    expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_CORRUPT');
    expect(err.message).toMatch(/more than 6 compressed bytes can hold/);
    const zeros = new Uint8Array(4 * 1024 * 1024);
    expect(snappy.decompress(snappy.compress(zeros), zeros.length).length).toBe(zeros.length);
  });

  it('reports malformed bodies as coded corruption', () => {
    const packed = Buffer.from(snappy.compress(text.subarray(0, 10_000)));
    const cases = [
      new Uint8Array(0),
      Uint8Array.of(0x80, 0x80),
      Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f),
      Uint8Array.of(0x0a, 0x00),
      packed.subarray(0, packed.length - 3),
    ];
    for (const bad of cases) {
      const err = errorOf(() => snappy.decompress(bad));
      expect(err.code).toBe(RpcCode.SERIALIZATION);
      expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_CORRUPT');
    }
  });

  it('is declared as a plugin with id 3 whose create() passes options through', () => {
    expect(plugin.name).toBe('@plexus/compressor-snappy');
    const [ext] = plugin.extensions;
    expect(ext).toMatchObject({ point: 'compressor', name: 'snappy', id: 3 });
    const created = ext.create(fakeExtensionContext({ maxOutput: 10 })) as SnappyCompressor;
    expect(created).toBeInstanceOf(SnappyCompressor);
    expect(() => created.decompress(created.compress(text.subarray(0, 11)))).toThrow(/above the limit of 10/);
  });
});

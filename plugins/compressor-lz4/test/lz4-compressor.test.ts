import { compressorContract, fakeExtensionContext } from '@plexus/kernel/testing';
import { RpcError, RpcCode } from '@plexus/kernel/spi';
import plugin, { Lz4Compressor } from '../src/lz4-compressor';

compressorContract('lz4', () => new Lz4Compressor());

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

describe('Lz4Compressor', () => {
  const lz4 = new Lz4Compressor();

  afterEach(() => jest.restoreAllMocks());

  it('is compressor "lz4" with wire id 2', () => {
    expect(lz4.name).toBe('lz4');
    expect(lz4.id).toBe(2);
  });

  it('frames a block as [1][length u32 LE][lz4 block] and shrinks text', () => {
    const packed = Buffer.from(lz4.compress(text));
    expect(packed[0]).toBe(1);
    expect(packed.readUInt32LE(1)).toBe(text.length);
    expect(packed.length).toBeLessThan(text.length / 10);
  });

  it('stores incompressible input as [0][length][input], 5 bytes larger', () => {
    const random = Buffer.alloc(4096);
    for (let i = 0, x = 12345; i < random.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      random[i] = x >>> 24;
    }
    const packed = Buffer.from(lz4.compress(random));
    expect(packed.length).toBe(random.length + 5);
    expect(packed[0]).toBe(0);
    expect(packed.subarray(5).equals(random)).toBe(true);
    expect(Buffer.from(lz4.decompress(packed)).equals(random)).toBe(true);
  });

  it('refuses a declared size above maxOutput before allocating it', () => {
    const hostile = Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00);
    const alloc = jest.spyOn(Buffer, 'allocUnsafe');
    const err = errorOf(() => lz4.decompress(hostile));
    expect(alloc).not.toHaveBeenCalled();
    expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
    expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_TOO_LARGE');
    expect(err.message).toContain('4294967295');
  });

  it('uses its maxOutput option when the caller passes none, and the caller\'s when given', () => {
    const small = new Lz4Compressor({ maxOutput: 1000 });
    const packed = small.compress(text.subarray(0, 2000));
    expect(errorOf(() => small.decompress(packed)).reason).toBe('PLEXUS_ERR_COMPRESSOR_TOO_LARGE');
    expect(small.decompress(packed, 2000).length).toBe(2000);
  });

  it('refuses a declared size the compressed bytes cannot hold (over 255:1) without allocating it', () => {
    const liar = Uint8Array.of(1, 0x00, 0x00, 0x80, 0x00, 0x1f, 0x00); // a 2-byte block declaring 8 MiB
    const alloc = jest.spyOn(Buffer, 'allocUnsafe');
    const err = errorOf(() => lz4.decompress(liar, 8 * 1024 * 1024));
    expect(err.code).toBe(RpcCode.SERIALIZATION);
    expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_CORRUPT');
    expect(err.message).toMatch(/more than 2 compressed bytes can hold/);
    expect(alloc).not.toHaveBeenCalled();
    // the most compressible input there is still decodes
    const zeros = new Uint8Array(4 * 1024 * 1024);
    expect(lz4.decompress(lz4.compress(zeros), zeros.length).length).toBe(zeros.length);
  });

  it('reports malformed frames as coded corruption', () => {
    const packed = Buffer.from(lz4.compress(text.subarray(0, 10_000)));
    const cases = [
      Uint8Array.of(1, 2, 3),
      Uint8Array.of(7, 0, 0, 0, 0),
      Uint8Array.of(0, 3, 0, 0, 0, 1, 2),
      Uint8Array.of(1, 0, 0, 0, 0, 0),
      Buffer.concat([packed.subarray(0, 1), Buffer.from([0x0f, 0x27, 0, 0]), packed.subarray(5)]),
    ];
    for (const bad of cases) {
      const err = errorOf(() => lz4.decompress(bad));
      expect(err.code).toBe(RpcCode.SERIALIZATION);
      expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_CORRUPT');
    }
  });

  it('is declared as a plugin with id 2 whose create() passes options through', () => {
    expect(plugin.name).toBe('@plexus/compressor-lz4');
    const [ext] = plugin.extensions;
    expect(ext).toMatchObject({ point: 'compressor', name: 'lz4', id: 2 });
    const created = ext.create(fakeExtensionContext({ maxOutput: 10 })) as Lz4Compressor;
    expect(created).toBeInstanceOf(Lz4Compressor);
    expect(() => created.decompress(created.compress(text.subarray(0, 11)))).toThrow(/above the limit of 10/);
  });
});

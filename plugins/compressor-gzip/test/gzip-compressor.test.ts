import { gunzipSync, gzipSync } from 'node:zlib';
import { compressorContract, fakeExtensionContext } from '@plexus/kernel/testing';
import { PlexusError, RpcError, RpcCode } from '@plexus/kernel/spi';
import plugin, { GzipCompressor } from '../src/gzip-compressor';

compressorContract('gzip', () => new GzipCompressor());
compressorContract('gzip (level 1)', () => new GzipCompressor({ level: 1 }));

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

describe('GzipCompressor', () => {
  const gzip = new GzipCompressor();

  it('is compressor "gzip" with wire id 1', () => {
    expect(gzip.name).toBe('gzip');
    expect(gzip.id).toBe(1);
  });

  it('writes standard gzip members that zlib reads, and reads what zlib writes', () => {
    const packed = Buffer.from(gzip.compress(text));
    expect([packed[0], packed[1]]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(packed).equals(text)).toBe(true);
    expect(Buffer.from(gzip.decompress(gzipSync(text))).equals(text)).toBe(true);
    // Concatenated members read as one body, as gunzip does.
    const two = Buffer.concat([gzipSync(Buffer.from('ab')), gzipSync(Buffer.from('cd'))]);
    expect(Buffer.from(gzip.decompress(two)).toString()).toBe('abcd');
  });

  it('stops inflating a gzip bomb at maxOutput', () => {
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(64 * 1024);
    const err = errorOf(() => gzip.decompress(bomb, 1024 * 1024));
    expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
    expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_TOO_LARGE');
  });

  it('uses its maxOutput option when the caller passes none, and the caller\'s when given', () => {
    const small = new GzipCompressor({ maxOutput: 1000 });
    const packed = small.compress(text.subarray(0, 2000));
    expect(errorOf(() => small.decompress(packed)).reason).toBe('PLEXUS_ERR_COMPRESSOR_TOO_LARGE');
    expect(small.decompress(packed, 2000).length).toBe(2000);
    expect(errorOf(() => small.decompress(packed)).reason).toBe('PLEXUS_ERR_COMPRESSOR_TOO_LARGE');
  });

  it('trades speed for size with level', () => {
    const fast = new GzipCompressor({ level: 1 }).compress(text).length;
    const best = new GzipCompressor({ level: 9 }).compress(text).length;
    expect(best).toBeLessThan(fast);
  });

  it('refuses a level outside -1..9 with a coded error', () => {
    for (const level of [10, -2, 1.5]) {
      let caught: unknown;
      try {
        new GzipCompressor({ level });
      } catch (err) {
        caught = err;
      }
      expect(PlexusError.is(caught, 'PLEXUS_ERR_GZIP_LEVEL')).toBe(true);
    }
  });

  it('reports malformed bodies as coded corruption', () => {
    const packed = Buffer.from(gzip.compress(text.subarray(0, 10_000)));
    for (const bad of [new Uint8Array(0), Uint8Array.of(1, 2, 3), packed.subarray(0, packed.length - 4)]) {
      const err = errorOf(() => gzip.decompress(bad));
      expect(err.code).toBe(RpcCode.SERIALIZATION);
      expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_CORRUPT');
    }
  });

  it('is declared as a plugin with id 1 whose create() passes options through', () => {
    expect(plugin.name).toBe('@plexus/compressor-gzip');
    const [ext] = plugin.extensions;
    expect(ext).toMatchObject({ point: 'compressor', name: 'gzip', id: 1 });
    const created = ext.create(fakeExtensionContext({ maxOutput: 10 })) as GzipCompressor;
    expect(created).toBeInstanceOf(GzipCompressor);
    expect(() => created.decompress(created.compress(text.subarray(0, 11)))).toThrow(/more than 10 bytes/);
  });
});

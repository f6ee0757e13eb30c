import { serializerContract, fakeExtensionContext } from '@plexus/kernel/testing';
import { RpcError, RpcCode, type Serializer } from '@plexus/kernel/spi';
import { runInThisContext } from 'node:vm';
import plugin, { MsgpackSerializer } from '../src/msgpack-serializer';

// Under jest, msgpackr's encoder recognises the host realm's typed arrays, not the sandbox's
// (production code has one realm); so encode a host-realm Float32Array and check by tag.
const HostFloat32Array = runInThisContext('Float32Array') as typeof Float32Array;

serializerContract('msgpack', () => new MsgpackSerializer());
serializerContract('msgpack (moreTypes off, copyBuffers on)', () => new MsgpackSerializer({ moreTypes: false, copyBuffers: true }));

function str(s: string): number[] {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > 31) throw new Error('fixstr only');
  return [0xa0 | bytes.length, ...bytes];
}

/** What `fn` threw (fails the test when it returned). */
function caught(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (err) {
    return err as RpcError;
  }
  throw new Error('expected a throw, but the call returned');
}

function roundTrip<T>(value: T, serializer: Serializer = new MsgpackSerializer()): T {
  return serializer.deserialize(serializer.serialize(value)) as T;
}

describe('MsgpackSerializer', () => {
  const serializer = new MsgpackSerializer();

  it('is serializer "msgpack" with wire id 2', () => {
    expect(serializer.name).toBe('msgpack');
    expect(serializer.id).toBe(2);
  });

  it('keeps Dates as Dates, to the millisecond', () => {
    const at = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
    const out = roundTrip({ at, list: [new Date(0), new Date(-86_400_000)] });
    expect(out.at).toBeInstanceOf(Date);
    expect(out.at.getTime()).toBe(at.getTime());
    expect(out.list.map((d) => d.getTime())).toEqual([0, -86_400_000]);
  });

  it('gives binary back as binary: Buffer as Buffer, Uint8Array as Uint8Array', () => {
    const buf = Buffer.from([0, 1, 2, 250, 255]);
    const u8 = Uint8Array.of(9, 8, 7);
    const out = roundTrip({ buf, u8, empty: Buffer.alloc(0) });
    expect(Buffer.isBuffer(out.buf)).toBe(true);
    expect([...out.buf]).toEqual([...buf]);
    expect(out.u8).toBeInstanceOf(Uint8Array);
    expect([...out.u8]).toEqual([9, 8, 7]);
    expect(out.empty.length).toBe(0);
  });

  it('gives bigint back as bigint, inside and beyond 64 bits', () => {
    const values = [0n, 5n, -5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 100n + 7n, -(3n ** 90n)];
    expect(roundTrip(values)).toEqual(values);
  });

  it('keeps Sets, typed arrays and Errors (moreTypes), and turns Maps into plain objects', () => {
    const out = roundTrip({
      set: new Set([1, 'a']),
      f32: HostFloat32Array.of(1.5, -2),
      err: new TypeError('bad input'),
      map: new Map<string, unknown>([['k', 1], ['n', { deep: true }]]),
      missing: undefined,
    });
    expect(out.set).toEqual(new Set([1, 'a']));
    expect(Object.prototype.toString.call(out.f32)).toBe('[object Float32Array]');
    expect([...out.f32]).toEqual([1.5, -2]);
    expect(out.err).toBeInstanceOf(TypeError);
    expect(out.err.message).toBe('bad input');
    expect(out.map).toEqual({ k: 1, n: { deep: true } });
    expect('missing' in out).toBe(true);
    expect(out.missing).toBeUndefined();
  });

  it('honours int64AsType', () => {
    const asNumber = new MsgpackSerializer({ int64AsType: 'number' });
    expect(asNumber.deserialize(asNumber.serialize(2n ** 40n))).toBe(2 ** 40);
    const auto = new MsgpackSerializer({ int64AsType: 'auto' });
    expect(auto.deserialize(auto.serialize([7n, 2n ** 60n]))).toEqual([7, 2n ** 60n]);
  });

  it('copies decoded binary only when copyBuffers is set', () => {
    const copying = new MsgpackSerializer({ copyBuffers: true });
    const bytes = Buffer.from(copying.serialize({ b: Buffer.from('abcdef') }));
    const decoded = copying.deserialize(bytes) as { b: Buffer };
    bytes.fill(0);
    expect(decoded.b.toString()).toBe('abcdef');
  });

  it('writes self-contained messages: a peer that saw nothing before decodes any of them', () => {
    const sender = new MsgpackSerializer();
    const shape = (i: number) => ({ id: i, name: `n${i}`, tags: ['x'], nested: { a: i, b: [i] } });
    const bodies = Array.from({ length: 40 }, (_, i) => sender.serialize(shape(i)));
    // Same shape, same bytes: no record ids or structure definitions leak into later messages.
    expect(Buffer.from(sender.serialize(shape(3))).equals(Buffer.from(bodies[3]))).toBe(true);
    for (const i of [39, 0, 20]) expect(new MsgpackSerializer().deserialize(bodies[i])).toEqual(shape(i));
    // A standard map: fixmap/map16 header, never msgpackr's record extension (0xd4 0x72).
    const first = bodies[0][0];
    expect((first & 0xf0) === 0x80 || first === 0xde).toBe(true);
  });

  it('refuses in-band record definitions (msgpackr records are off on both sides)', () => {
    // 0xd4 0x72 0x40: define record 0x40 with keys ["x"], then its values [5]. A definition would
    // change how later bytes of the body decode, out of the pre-scan's sight, so it is refused.
    const withRecord = Uint8Array.of(0xd4, 0x72, 0x40, 0x91, ...str('x'), 0x05);
    const err = caught(() => serializer.deserialize(withRecord));
    expect([err.code, err.reason]).toEqual([RpcCode.SERIALIZATION, 'PLEXUS_ERR_SERIALIZER_DECODE']);
    expect(err.message).toMatch(/extension type 0x72/);
    // 0x40 is the plain positive fixint 64.
    expect(serializer.deserialize(Uint8Array.of(0x40))).toBe(64);
  });

  describe('prototype pollution', () => {
    afterEach(() => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    });

    it('neutralises a __proto__ key in a fixmap', () => {
      const crafted = Uint8Array.of(0x82, ...str('__proto__'), 0x81, ...str('polluted'), 0xc3, ...str('ok'), 0x01);
      const out = serializer.deserialize(crafted) as Record<string, unknown>;
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      expect(out.polluted).toBeUndefined();
      expect(out.ok).toBe(1);
      expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(false);
    });

    it('neutralises a __proto__ key in a map16 and in nested maps', () => {
      const inner = [0xde, 0x00, 0x01, ...str('__proto__'), 0x81, ...str('polluted'), 0xc3];
      const crafted = Uint8Array.of(0x81, ...str('child'), 0x91, ...inner);
      const out = serializer.deserialize(crafted) as { child: Record<string, unknown>[] };
      expect(Object.getPrototypeOf(out.child[0])).toBe(Object.prototype);
      expect(out.child[0].polluted).toBeUndefined();
    });

    it('refuses a __proto__ key declared in an in-band record definition', () => {
      const crafted = Uint8Array.of(0xd4, 0x72, 0x40, 0x91, ...str('__proto__'), 0x81, ...str('polluted'), 0xc3);
      expect(() => serializer.deserialize(crafted)).toThrow(/extension type 0x72/);
    });

    it('keeps constructor / prototype keys as inert own properties', () => {
      const crafted = Uint8Array.of(
        0x82,
        ...str('constructor'),
        0x81,
        ...str('prototype'),
        0x81,
        ...str('polluted'),
        0xc3,
        ...str('prototype'),
        0x81,
        ...str('polluted'),
        0xc3,
      );
      const out = serializer.deserialize(crafted) as Record<string, unknown>;
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      expect(out.polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(out, 'constructor')).toBe(true);
    });

    it('refuses structured-clone references, so a body cannot build cycles', () => {
      expect(() => serializer.deserialize(Uint8Array.of(0xd6, 0x70, 0, 0, 0, 0))).toThrow(RpcError);
    });
  });

  describe('bounded decoding (pre-scan)', () => {
    it('refuses the 6-byte body declaring an array of 2^25 items at once, without allocating', () => {
      const body = Uint8Array.of(0xdd, 0x02, 0x00, 0x00, 0x00, 0xc0);
      const heapBefore = process.memoryUsage().heapUsed;
      const started = process.hrtime.bigint();
      for (let i = 0; i < 100; i++) {
        const err = caught(() => serializer.deserialize(body));
        expect(err.reason).toBe('PLEXUS_ERR_SERIALIZER_DECODE');
        expect(err.message).toMatch(/declares 33554432 items or bytes, but only 1 bytes remain/);
      }
      // Unchecked, msgpackr spent ~150 ms and 256 MiB on each: 15 s for the 100. A bound far from
      // both, so a busy machine does not fail it.
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(16 * 1024 * 1024);
    });

    it('checks string, binary and extension lengths against the bytes present', () => {
      for (const body of [
        Uint8Array.of(0xd9, 0x05, 0x61), // str8 of 5, one byte
        Uint8Array.of(0xdb, 0x00, 0x10, 0x00, 0x00, 0x61), // str32 of 1 MiB
        Uint8Array.of(0xc5, 0x01, 0x00, 0x00), // bin16 of 256
        Uint8Array.of(0xc9, 0x00, 0x10, 0x00, 0x00, 0x74, 0x01), // ext32 (typed array) of 1 MiB
        Uint8Array.of(0xd8, 0xff, 0x00), // fixext16 with one byte
        Uint8Array.of(0xcb, 0x40), // float64 cut short
      ]) {
        expect(caught(() => serializer.deserialize(body)).code).toBe(RpcCode.SERIALIZATION);
      }
    });

    it('accepts big integers up to 4096 bytes and refuses larger ones before building them', () => {
      const big = 2n ** 32000n - 1n;
      expect(roundTrip(big)).toBe(big);
      const huge = Buffer.alloc(4 * 1024 * 1024 + 6, 0x7f);
      huge[0] = 0xc9;
      huge.writeUInt32BE(4 * 1024 * 1024, 1);
      huge[5] = 0x42;
      const started = process.hrtime.bigint();
      const err = caught(() => serializer.deserialize(huge));
      // msgpackr alone spent ~150 ms building this one value
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(20);
      expect(err.reason).toBe('PLEXUS_ERR_SERIALIZER_DECODE');
      expect(err.message).toMatch(/takes 4194304 bytes, more than 4096/);
    });

    it('refuses trailing bytes and truncated containers', () => {
      expect(caught(() => serializer.deserialize(Uint8Array.of(0x01, 0x02))).message).toMatch(/1 bytes follow the value/);
      expect(caught(() => serializer.deserialize(Uint8Array.of(0x93, 0x01, 0x02))).message).toMatch(/only 2 bytes remain/);
      expect(caught(() => serializer.deserialize(Uint8Array.of(0x92, 0x91))).code).toBe(RpcCode.SERIALIZATION);
    });

    it('counts Set, Error and RegExp wrappers as a level, so a chain of them cannot recurse without bound', () => {
      const set = new Set([new Set([1])]);
      expect(roundTrip(set)).toEqual(set);
      expect(roundTrip([new Error('boom'), /a+b/g])).toEqual([new Error('boom'), /a+b/g]);
      // 3 bytes per level: fixext1 's' 0, a Set of the next one
      const chain = new Uint8Array(3 * 5000 + 1);
      for (let i = 0; i < 5000; i++) chain.set([0xd4, 0x73, 0x00], i * 3);
      chain[chain.length - 1] = 0x90;
      const err = caught(() => serializer.deserialize(chain));
      expect(err.reason).toBe('PLEXUS_ERR_SERIALIZER_LIMIT');
      expect(err.message).toMatch(/deeper than 100/);
    });

    it('keeps every msgpackr type working through the scan', () => {
      const value = {
        when: new Date(1_700_000_000_123),
        old: new Date(-1),
        far: new Date(8_000_000_000_000_000),
        bin: Buffer.from([1, 2, 3]),
        floats: new HostFloat32Array([1.5, 2.5]),
        big: 2n ** 100n,
        int64: -(2n ** 40n),
        nothing: undefined,
        f: 1.25,
        list: [null, true, false, -1, 200, 70000, 5_000_000_000, 'é'.repeat(40), 'x'.repeat(70000)],
        wide: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
      };
      const out = roundTrip(value) as typeof value;
      expect(out.when).toEqual(value.when);
      expect(out.old).toEqual(value.old);
      expect(out.far).toEqual(value.far);
      expect(out.big).toBe(value.big);
      expect(out.int64).toBe(value.int64);
      expect('nothing' in out).toBe(true);
      expect(Array.from(out.floats)).toEqual([1.5, 2.5]);
      expect(out.list).toEqual(value.list);
      expect(out.wide).toEqual(value.wide);
    });

    it('applies maxDepth / maxElements from its options (as configured under extensions.serializer.msgpack)', () => {
      const created = plugin.extensions[0].create(fakeExtensionContext({ maxDepth: 3, maxElements: 10 })) as MsgpackSerializer;
      expect(created.deserialize(created.serialize([[[1]]]))).toEqual([[[1]]]);
      expect(caught(() => created.deserialize(created.serialize([[[[1]]]]))).message).toMatch(/maxDepth/);
      expect(caught(() => created.deserialize(created.serialize(Array.from({ length: 11 }, () => 0)))).message).toMatch(/maxElements/);
      // a per-call limit wins over the options
      expect(created.deserialize(created.serialize([[[[1]]]]), { maxDepth: 4 })).toEqual([[[[1]]]]);
    });

    it('never hangs or over-allocates on random bytes (seeded)', () => {
      let x = 0x2545f491;
      const rnd = () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) / 0x100000000;
      };
      const started = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) {
        const body = Uint8Array.from({ length: 1 + Math.floor(rnd() * 24) }, () => Math.floor(rnd() * 256));
        try {
          serializer.deserialize(body);
        } catch (err) {
          expect(RpcError.is(err)).toBe(true);
        }
      }
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(5000);
    });
  });

  it('reports decode failures as a coded RpcError', () => {
    let caught: unknown;
    try {
      serializer.deserialize(Uint8Array.of(0x92, 0x01));
    } catch (err) {
      caught = err;
    }
    expect(RpcError.is(caught)).toBe(true);
    expect((caught as RpcError).code).toBe(RpcCode.SERIALIZATION);
    expect((caught as RpcError).reason).toBe('PLEXUS_ERR_SERIALIZER_DECODE');
    expect((caught as RpcError).message).toContain('msgpack');
  });

  it('reports encode failures as a coded RpcError and keeps working afterwards', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let caught: unknown;
    try {
      serializer.serialize(cyclic);
    } catch (err) {
      caught = err;
    }
    expect(RpcError.is(caught)).toBe(true);
    expect((caught as RpcError).reason).toBe('PLEXUS_ERR_SERIALIZER_ENCODE');
    expect(roundTrip({ after: 'failure' }, serializer)).toEqual({ after: 'failure' });
  });

  it('serializeScratch reuses its bytes call after call, and never writes over what serialize handed out', () => {
    const s = new MsgpackSerializer();
    const a = s.serialize({ kept: 'a', n: 1 });
    const first = s.serializeScratch({ scratch: 1 });
    const firstStart = first.start;
    const c = s.serialize({ kept: 'c', list: [1, 2, 3] });
    const second = s.serializeScratch({ scratch: 2, text: 'x'.repeat(100) });
    const third = s.serializeScratch({ scratch: 3 });
    expect(third.start).toBe(second.start);
    expect(second.start).toBeGreaterThan(firstStart);
    expect(s.deserialize(third.bytes.subarray(third.start, third.end))).toEqual({ scratch: 3 });
    expect(s.deserialize(a)).toEqual({ kept: 'a', n: 1 });
    expect(s.deserialize(c)).toEqual({ kept: 'c', list: [1, 2, 3] });
  });

  it('encodes objects of more than 65535 keys (map32)', () => {
    const wide: Record<string, number> = {};
    for (let i = 0; i < 70_000; i++) wide[`k${i}`] = i;
    const out = roundTrip(wide, serializer);
    expect(Object.keys(out).length).toBe(70_000);
    expect(out.k69999).toBe(69_999);
    expect(roundTrip({ small: true }, serializer)).toEqual({ small: true });
  });

  it('refuses symbols with a coded error', () => {
    expect(() => serializer.serialize({ s: Symbol('x') })).toThrow(/cannot encode/);
  });

  it('is declared as a plugin with id 2 whose create() passes options through', () => {
    expect(plugin.name).toBe('@plexus/serializer-msgpack');
    const [ext] = plugin.extensions;
    expect(ext).toMatchObject({ point: 'serializer', name: 'msgpack', id: 2 });
    const created = ext.create(fakeExtensionContext({ int64AsType: 'number' })) as MsgpackSerializer;
    expect(created).toBeInstanceOf(MsgpackSerializer);
    expect(created.deserialize(created.serialize(2n ** 40n))).toBe(2 ** 40);
  });
});

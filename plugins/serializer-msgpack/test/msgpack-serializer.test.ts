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

  it('does not carry a record definition from one decoded message into the next', () => {
    // 0xd4 0x72 0x40: define record 0x40 with keys ["x"], then its values [5].
    const withRecord = Uint8Array.of(0xd4, 0x72, 0x40, 0x91, ...str('x'), 0x05);
    expect(serializer.deserialize(withRecord)).toEqual({ x: 5 });
    // 0x40 is then the plain positive fixint 64 again.
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

    it('neutralises a __proto__ key declared in an in-band record definition', () => {
      const crafted = Uint8Array.of(0xd4, 0x72, 0x40, 0x91, ...str('__proto__'), 0x81, ...str('polluted'), 0xc3);
      const out = serializer.deserialize(crafted) as Record<string, unknown>;
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      expect(out.polluted).toBeUndefined();
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

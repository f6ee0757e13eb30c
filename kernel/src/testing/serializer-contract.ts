import { RpcError } from '../errors/rpc-error';
import { DEFAULT_DECODE_LIMITS, SERIALIZER_LIMIT_REASON, type Serializer } from '../spi/serializer';

/** Values every serializer must give back unchanged (deep equality). */
const ROUND_TRIP_SAMPLES: ReadonlyArray<readonly [string, unknown]> = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['small integer', 42],
  ['negative integer', -7],
  ['int32 bounds', [2147483647, -2147483648, 4294967295]],
  ['safe integer bounds', [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]],
  ['floats', [1.5, -0.25, Math.PI, 1e300, 1e-7, 5e-324]],
  ['empty string', ''],
  ['ascii string', 'hello, plexus'],
  ['escapes', 'quote " backslash \\ newline \n tab \t nul \u0000'],
  ['unicode string', 'héllo wörld — 日本語 — Ελληνικά — 👍🏽 — 𝄞'],
  ['long string', 'plexus '.repeat(20_000)],
  ['empty object', {}],
  ['empty array', []],
  ['flat object', { id: 7, name: 'ada', active: true, score: 9.5, note: null }],
  [
    'nested object',
    { user: { id: 1, name: 'ada', roles: ['admin', 'ops'], address: { city: 'Berlin', zip: '10115' } }, meta: { ok: true, list: [] } },
  ],
  ['array of mixed values', [1, 'two', 3.5, null, true, false, { k: 'v' }, [1, [2, [3]]]]],
  ['array of objects', Array.from({ length: 100 }, (_, i) => ({ i, s: `item-${i}`, even: i % 2 === 0 }))],
  ['keys that need quoting', { 'a b': 1, 'ü-key': 2, '': 3, '0': 4, constructor: 'own', prototype: 'own', toString: 'own' }],
  ['deep nesting', nest(64)],
];

function nest(depth: number): unknown {
  let value: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) value = { level: i, child: value, siblings: [i] };
  return value;
}

/** `depth` arrays nested in one another around a number: `[[[1]]]` is depth 3. */
function nestArrays(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** What `fn` threw (fails the test when it returned). */
function thrown(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (err) {
    return err as RpcError;
  }
  throw new Error('expected a throw, but the call returned');
}

/**
 * The contract every {@link Serializer} must meet. Call it inside a jest test file:
 * `serializerContract('msgpack', () => new MsgpackSerializer())` (created with default limits:
 * the suite checks the {@link DEFAULT_DECODE_LIMITS}). `create` is called once per
 * `describe`, so the suite also checks that one instance serves many calls (the SPI's scope).
 */
export function serializerContract(name: string, create: () => Serializer): void {
  describe(`serializer contract: ${name}`, () => {
    let serializer: Serializer;
    beforeAll(() => {
      serializer = create();
    });

    it('has a wire id in 0..255 and a non-empty name', () => {
      expect(Number.isInteger(serializer.id)).toBe(true);
      expect(serializer.id).toBeGreaterThanOrEqual(0);
      expect(serializer.id).toBeLessThanOrEqual(255);
      expect(typeof serializer.name).toBe('string');
      expect(serializer.name.length).toBeGreaterThan(0);
    });

    it.each(ROUND_TRIP_SAMPLES)('round-trips %s', (_label, value) => {
      const bytes = serializer.serialize(value);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(serializer.deserialize(bytes)).toEqual(value);
    });

    it('keeps earlier output intact when called again (no shared output buffer)', () => {
      const first = { call: 1, text: 'first message' };
      const a = serializer.serialize(first);
      const snapshot = Uint8Array.from(a);
      for (let i = 0; i < 50; i++) serializer.serialize({ call: i + 2, text: 'x'.repeat(i * 37) });
      expect(Array.from(a)).toEqual(Array.from(snapshot));
      expect(serializer.deserialize(a)).toEqual(first);
    });

    it('decodes from a Uint8Array view with a non-zero offset', () => {
      const value = { view: true, list: [1, 2, 3], text: 'offset' };
      const bytes = serializer.serialize(value);
      const host = new Uint8Array(bytes.length + 13);
      host.set(bytes, 13);
      expect(serializer.deserialize(host.subarray(13))).toEqual(value);
    });

    it('serializeScratch (when offered) gives the bytes serialize gives, valid until the next call', () => {
      if (serializer.serializeScratch === undefined) {
        expect(serializer.serializeScratch).toBeUndefined();
        return;
      }
      for (const [, value] of ROUND_TRIP_SAMPLES) {
        if (value === undefined) continue;
        const range = serializer.serializeScratch(value);
        const bytes = Buffer.from(range.bytes.subarray(range.start, range.end));
        expect(bytes.equals(Buffer.from(serializer.serialize(value)))).toBe(true);
        expect(serializer.deserialize(bytes)).toEqual(value);
      }
    });

    it('deserializeRange (when offered) decodes a range of a larger buffer as deserialize decodes a copy of it', () => {
      if (serializer.deserializeRange === undefined) {
        expect(serializer.deserializeRange).toBeUndefined();
        return;
      }
      const value = { range: true, list: [1, 2, 3], text: 'in place' };
      const bytes = serializer.serialize(value);
      // bytes of another message on both sides, as in a socket read holding several frames
      const host = Buffer.concat([Buffer.from(serializer.serialize([9, 9])), Buffer.from(bytes), Buffer.from(serializer.serialize('after'))]);
      const start = host.length - bytes.length - serializer.serialize('after').length;
      expect(serializer.deserializeRange(host, start, start + bytes.length)).toEqual(value);
      // the same limits and errors as deserialize: a range cut short throws, a range that runs on is refused
      expect(() => serializer.deserializeRange!(host, start, start + bytes.length - 1)).toThrow();
      expect(() => serializer.deserializeRange!(host, start, start + bytes.length + 1)).toThrow();
      const deep = Buffer.concat([Buffer.from([0, 0, 0]), Buffer.from(serializer.serialize(nestArrays(20)))]);
      const err = thrown(() => serializer.deserializeRange!(deep, 3, deep.length, { maxDepth: 19 }));
      expect(err.reason).toBe(SERIALIZER_LIMIT_REASON);
      expect(serializer.deserializeRange(deep, 3, deep.length, { maxDepth: 20 })).toEqual(nestArrays(20));
    });

    it('throws (and does not hang) on truncated input', () => {
      const bytes = serializer.serialize({ a: 'some text', b: [1, 2, 3, 4, 5], c: { d: true, e: null } });
      for (const cut of [1, 2, Math.floor(bytes.length / 2), bytes.length - 1]) {
        expect(() => serializer.deserialize(bytes.subarray(0, cut))).toThrow();
      }
    });

    it('throws (and does not hang) on garbage that declares huge lengths', () => {
      const samples = [
        Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), // msgpack array32 of 4G items, no items
        Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff, 0x41), // msgpack str32 of 4 GiB, one byte
        Uint8Array.of(0xdf, 0x7f, 0xff, 0xff, 0xff), // msgpack map32 of 2G entries, no entries
        Uint8Array.of(0x5b, 0x5b, 0x5b, 0x5b, 0x7b), // "[[[[{"
      ];
      for (const garbage of samples) expect(() => serializer.deserialize(garbage)).toThrow();
    });

    it('takes at most a few ms for a tiny body that declares a huge container (100 times)', () => {
      const samples = [
        Uint8Array.of(0xdd, 0x02, 0x00, 0x00, 0x00, 0xc0), // msgpack array32 of 2^25 items, one item
        Uint8Array.of(0xdf, 0x02, 0x00, 0x00, 0x00, 0xc0), // msgpack map32 of 2^25 entries
        Uint8Array.of(0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00), // msgpack bin32 of 2 GiB
      ];
      const started = process.hrtime.bigint();
      for (let i = 0; i < 100; i++) for (const body of samples) expect(() => serializer.deserialize(body)).toThrow();
      // the unchecked decoder spent ~150 ms and 256 MiB on each array sample
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
    });

    it('refuses nesting deeper than maxDepth with a coded SERIALIZATION error, and allows exactly maxDepth', () => {
      const bytes = serializer.serialize(nestArrays(20));
      expect(serializer.deserialize(bytes, { maxDepth: 20 })).toEqual(nestArrays(20));
      const err = thrown(() => serializer.deserialize(bytes, { maxDepth: 19 }));
      expect(RpcError.is(err)).toBe(true);
      expect(err.code).toBe('SERIALIZATION');
      expect(err.reason).toBe(SERIALIZER_LIMIT_REASON);
      expect(err.message).toMatch(/maxDepth/);
    });

    it('counts objects as well as arrays toward maxDepth', () => {
      let value: unknown = 0;
      for (let i = 0; i < 10; i++) value = { k: value };
      const bytes = serializer.serialize([value]);
      expect(serializer.deserialize(bytes, { maxDepth: 11 })).toEqual([value]);
      expect(thrown(() => serializer.deserialize(bytes, { maxDepth: 10 })).reason).toBe(SERIALIZER_LIMIT_REASON);
    });

    it('refuses more array items and object entries than maxElements, summed over the body', () => {
      const list = Array.from({ length: 1000 }, (_, i) => i);
      const bytes = serializer.serialize(list);
      expect(serializer.deserialize(bytes, { maxElements: 1000 })).toEqual(list);
      const err = thrown(() => serializer.deserialize(bytes, { maxElements: 999 }));
      expect(err.reason).toBe(SERIALIZER_LIMIT_REASON);
      expect(err.message).toMatch(/maxElements/);
      // 300 objects of 2 entries in an array: 300 items + 600 entries
      const records = serializer.serialize(Array.from({ length: 300 }, (_, i) => ({ a: i, b: [] })));
      expect(() => serializer.deserialize(records, { maxElements: 900 })).not.toThrow();
      expect(thrown(() => serializer.deserialize(records, { maxElements: 899 })).reason).toBe(SERIALIZER_LIMIT_REASON);
    });

    it('refuses a body of many empty objects before building them', () => {
      const bytes = serializer.serialize(Array.from({ length: 5000 }, () => ({})));
      expect(thrown(() => serializer.deserialize(bytes, { maxElements: 4999 })).reason).toBe(SERIALIZER_LIMIT_REASON);
    });

    it(`decodes ${DEFAULT_DECODE_LIMITS.maxDepth} levels by default and refuses one more`, () => {
      expect(serializer.deserialize(serializer.serialize(nestArrays(DEFAULT_DECODE_LIMITS.maxDepth)))).toEqual(nestArrays(DEFAULT_DECODE_LIMITS.maxDepth));
      const err = thrown(() => serializer.deserialize(serializer.serialize(nestArrays(DEFAULT_DECODE_LIMITS.maxDepth + 1))));
      expect(err.reason).toBe(SERIALIZER_LIMIT_REASON);
    });

    it('turns a value that throws anything while being encoded into a coded error', () => {
      const trap = () => {
        const odd = Object.create(null) as Record<string, unknown>;
        odd.self = odd;
        throw odd; // not an Error, no toString, circular
      };
      const hostile = new Proxy({}, { get: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap, has: trap });
      const getter = { get boom(): never { throw Symbol('boom'); } };
      // a Proxy whose every trap throws the Proxy itself
      const selfThrowing: object = new Proxy(
        {},
        {
          get: () => { throw selfThrowing; },
          ownKeys: () => { throw selfThrowing; },
          getOwnPropertyDescriptor: () => { throw selfThrowing; },
          getPrototypeOf: () => { throw selfThrowing; },
          has: () => { throw selfThrowing; },
        },
      );
      for (const value of [hostile, getter, [hostile], { nested: getter }, selfThrowing, { deep: [selfThrowing] }]) {
        let caught: unknown;
        try {
          serializer.serialize(value);
        } catch (err) {
          caught = err;
        }
        // either it encoded something, or it threw a coded RpcError: never a raw value
        if (caught !== undefined) {
          expect(RpcError.is(caught)).toBe(true);
          expect((caught as RpcError).code).toBe('SERIALIZATION');
          expect(typeof (caught as RpcError).message).toBe('string');
        }
      }
    });

    it('does not let __proto__ / constructor / prototype keys reach a prototype', () => {
      // An own `__proto__` data property, as a hostile peer would send it.
      const hostile = JSON.parse(
        '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},' +
          '"nested":{"__proto__":{"polluted":"yes"}},"list":[{"__proto__":{"polluted":"yes"}}]}',
      ) as Record<string, unknown>;
      const decoded = serializer.deserialize(serializer.serialize(hostile)) as Record<string, unknown>;

      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as unknown as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
      expect(decoded.polluted).toBeUndefined();
      const nested = decoded.nested as Record<string, unknown>;
      expect(Object.getPrototypeOf(nested)).toBe(Object.prototype);
      expect(nested.polluted).toBeUndefined();
      const item = (decoded.list as Record<string, unknown>[])[0];
      expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
      expect(item.polluted).toBeUndefined();
    });
  });
}

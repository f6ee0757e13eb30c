import type { Serializer } from '../spi/serializer';

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

/**
 * The contract every {@link Serializer} must meet. Call it inside a jest test file:
 * `serializerContract('msgpack', () => new MsgpackSerializer())`. `create` is called once per
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

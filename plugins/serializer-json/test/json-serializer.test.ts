import { serializerContract, fakeExtensionContext } from '@plexus/kernel/testing';
import { RpcError, RpcCode } from '@plexus/kernel/spi';
import plugin, { JsonSerializer } from '../src/json-serializer';

serializerContract('json', () => new JsonSerializer());

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}

function codeOf(fn: () => unknown): { code?: string; reason?: string } {
  try {
    fn();
  } catch (err) {
    return RpcError.is(err) ? { code: err.code, reason: err.reason } : {};
  }
  throw new Error('expected a throw');
}

describe('JsonSerializer', () => {
  const serializer = new JsonSerializer();

  it('is serializer "json" with wire id 1', () => {
    expect(serializer.name).toBe('json');
    expect(serializer.id).toBe(1);
  });

  it('writes plain UTF-8 JSON that curl and non-Node peers can read', () => {
    expect(text(serializer.serialize({ greeting: 'héllo', n: [1, 2] }))).toBe('{"greeting":"héllo","n":[1,2]}');
    expect([...serializer.serialize('é')]).toEqual([0x22, 0xc3, 0xa9, 0x22]);
    expect(serializer.deserialize(Buffer.from('  {"a": [true, null]}\n'))).toEqual({ a: [true, null] });
  });

  // Where msgpack keeps a Date, a Buffer and a bigint as themselves, JSON maps them as below.
  it('turns a Date into its ISO string (msgpack would give back a Date)', () => {
    const at = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
    const out = serializer.deserialize(serializer.serialize({ at })) as { at: unknown };
    expect(out.at).toBe('2024-02-29T12:34:56.789Z');
    expect(new Date(out.at as string).getTime()).toBe(at.getTime());
  });

  it('turns a Buffer into {type:"Buffer",data:[...]} that Buffer.from(x.data) restores', () => {
    const buf = Buffer.from([0, 1, 254, 255]);
    expect(text(serializer.serialize(buf))).toBe('{"type":"Buffer","data":[0,1,254,255]}');
    const out = serializer.deserialize(serializer.serialize({ buf })) as { buf: { type: string; data: number[] } };
    expect(out.buf).toEqual({ type: 'Buffer', data: [0, 1, 254, 255] });
    expect(Buffer.from(out.buf.data).equals(buf)).toBe(true);
  });

  it('encodes undefined, NaN, Infinity, Map and Set as JSON does', () => {
    expect(text(serializer.serialize(undefined))).toBe('null');
    expect(serializer.deserialize(serializer.serialize(undefined))).toBeNull();
    expect(text(serializer.serialize({ a: undefined, b: [undefined, NaN, Infinity] }))).toBe('{"b":[null,null,null]}');
    expect(text(serializer.serialize({ m: new Map([['k', 1]]), s: new Set([1]) }))).toBe('{"m":{},"s":{}}');
  });

  it('refuses bigint and cycles with a coded error (msgpack encodes bigint)', () => {
    expect(codeOf(() => serializer.serialize({ n: 10n }))).toEqual({
      code: RpcCode.SERIALIZATION,
      reason: 'PLEXUS_ERR_SERIALIZER_ENCODE',
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(codeOf(() => serializer.serialize(cyclic)).reason).toBe('PLEXUS_ERR_SERIALIZER_ENCODE');
  });

  it('refuses bodies that are not JSON with a coded error', () => {
    for (const body of ['', '{"a":', 'undefined', '\u00ff\u00fe', "{'single':1}"]) {
      expect(codeOf(() => serializer.deserialize(Buffer.from(body, body.startsWith('\u00ff') ? 'latin1' : 'utf8')))).toEqual({
        code: RpcCode.SERIALIZATION,
        reason: 'PLEXUS_ERR_SERIALIZER_DECODE',
      });
    }
  });

  describe('prototype pollution', () => {
    afterEach(() => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    });

    it('drops __proto__ keys, at any depth', () => {
      const out = serializer.deserialize(
        Buffer.from('{"__proto__":{"polluted":1},"ok":1,"deep":[{"x":{"__proto__":{"polluted":2}}}]}'),
      ) as Record<string, any>;
      expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(false);
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      expect(out.ok).toBe(1);
      expect(Object.prototype.hasOwnProperty.call(out.deep[0].x, '__proto__')).toBe(false);
      // Merging the result the usual way cannot swap a prototype either.
      const merged = Object.assign({}, out);
      expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
      expect(merged.polluted).toBeUndefined();
    });

    it('drops __proto__ keys spelt with \\u escapes', () => {
      const out = serializer.deserialize(Buffer.from('{"\\u005f_proto\\u005f_":{"polluted":1},"k":"\\u00e9"}')) as Record<string, unknown>;
      expect(Object.keys(out)).toEqual(['k']);
      expect(out.k).toBe('é');
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    });

    it('drops __proto__ keys with any character escaped, in either hex case', () => {
      for (const key of ['_\\u005fproto__', '__pr\\u006Fto__', '\\u005F\\u005f\\u0070\\u0072\\u006f\\u0074\\u006f\\u005f\\u005f']) {
        const out = serializer.deserialize(Buffer.from(`{"${key}":{"polluted":1},"k":1}`)) as Record<string, unknown>;
        expect(Object.keys(out)).toEqual(['k']);
      }
    });

    it('parses escaped bodies without a __proto__ key on the fast path', () => {
      const parse = jest.spyOn(JSON, 'parse');
      try {
        expect(serializer.deserialize(Buffer.from('{"name":"caf\\u00e9","protocol":"x"}'))).toEqual({ name: 'café', protocol: 'x' });
        expect(parse).toHaveBeenCalledTimes(1);
        expect(parse.mock.calls[0]).toHaveLength(1);
      } finally {
        parse.mockRestore();
      }
    });

    it('keeps a value that merely mentions __proto__', () => {
      expect(serializer.deserialize(Buffer.from('{"text":"__proto__ is a key"}'))).toEqual({ text: '__proto__ is a key' });
    });
  });

  it('is declared as a plugin with id 1', () => {
    expect(plugin.name).toBe('@plexus/serializer-json');
    const [ext] = plugin.extensions;
    expect(ext).toMatchObject({ point: 'serializer', name: 'json', id: 1 });
    expect(ext.create(fakeExtensionContext())).toBeInstanceOf(JsonSerializer);
  });
});

describe('JsonSerializer bounded decoding', () => {
  const serializer = new JsonSerializer();
  const body = (s: string) => Buffer.from(s, 'utf8');

  it('does not count brackets, braces or commas inside strings, escaped quotes included', () => {
    const value = ['[[[[{{{{,,,,', 'quote \\" then [[[', '\\', 'end \\\\" [['];
    const bytes = serializer.serialize(value);
    expect(serializer.deserialize(bytes, { maxDepth: 1, maxElements: 4 })).toEqual(value);
    expect(codeOf(() => serializer.deserialize(bytes, { maxElements: 3 })).reason).toBe('PLEXUS_ERR_SERIALIZER_LIMIT');
  });

  it('refuses 8 MiB of nested brackets at the limit, quickly', () => {
    const deep = Buffer.alloc(8 * 1024 * 1024, '[');
    const started = process.hrtime.bigint();
    expect(codeOf(() => serializer.deserialize(deep))).toEqual({ code: RpcCode.SERIALIZATION, reason: 'PLEXUS_ERR_SERIALIZER_LIMIT' });
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(50);
  });

  it('refuses a body of a million and one empty objects under the default limit', () => {
    const wide = body(`[${'{},'.repeat(1_000_000)}{}]`);
    expect(codeOf(() => serializer.deserialize(wide))).toEqual({ code: RpcCode.SERIALIZATION, reason: 'PLEXUS_ERR_SERIALIZER_LIMIT' });
    expect((serializer.deserialize(body('[{},{}]')) as unknown[]).length).toBe(2);
  });

  it('counts object entries and empty containers as the msgpack serializer does', () => {
    expect(serializer.deserialize(body(' { "a" : [ ] , "b" : { } } '), { maxElements: 2, maxDepth: 2 })).toEqual({ a: [], b: {} });
    expect(codeOf(() => serializer.deserialize(body('{"a":[],"b":{}}'), { maxElements: 1 })).reason).toBe('PLEXUS_ERR_SERIALIZER_LIMIT');
    expect(codeOf(() => serializer.deserialize(body('{"a":[],"b":{}}'), { maxDepth: 1 })).reason).toBe('PLEXUS_ERR_SERIALIZER_LIMIT');
  });

  it('takes maxDepth / maxElements from its options (extensions.serializer.json)', () => {
    const created = plugin.extensions[0].create(fakeExtensionContext({ maxDepth: 2, maxElements: 3 })) as JsonSerializer;
    expect(created.deserialize(body('[[1,2]]'))).toEqual([[1, 2]]);
    expect(codeOf(() => created.deserialize(body('[[[1]]]'))).reason).toBe('PLEXUS_ERR_SERIALIZER_LIMIT');
    expect(codeOf(() => created.deserialize(body('[1,2,3,4]'))).reason).toBe('PLEXUS_ERR_SERIALIZER_LIMIT');
  });

  it('leaves malformed text to JSON.parse, which reports it as a decode error', () => {
    expect(codeOf(() => serializer.deserialize(body('["unterminated')))).toEqual({ code: RpcCode.SERIALIZATION, reason: 'PLEXUS_ERR_SERIALIZER_DECODE' });
  });
});

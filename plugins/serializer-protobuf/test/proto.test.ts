import * as path from 'node:path';
import { RpcCode, RpcError } from '@plexus/kernel/spi';
import { loadProto } from '../src';

const fixture = (name: string) => path.join(__dirname, 'fixtures', name);

function thrown(fn: () => unknown): RpcError & { code: string } {
  try {
    fn();
  } catch (err) {
    return err as RpcError & { code: string };
  }
  throw new Error('expected a throw');
}

describe('loadProto', () => {
  const shop = loadProto(fixture('shop.proto')).service('shop.Shop');

  it('reads the service, its methods and their streaming flags', () => {
    expect(shop.methods).toEqual(['Get', 'Chain', 'Watch']);
    expect(shop.method('Get').request.name).toBe('shop.Item');
    expect(shop.method('Watch').responseStream).toBe(true);
    expect(shop.method('Get').responseStream).toBe(false);
  });

  it('round-trips plain objects with keepCase names, longs as strings, enums by name, defaults filled', () => {
    const codec = shop.method('Get').request;
    const value = {
      item_id: 'b-1',
      count: '9007199254740993', // past 2^53: survives only as a string
      kind: 'BOOK',
      price: { currency: 'EUR', amount: 9.5 },
      tags: ['a', 'b'],
      stock: { berlin: 3 },
      blob: Buffer.from([1, 2, 3]),
      note: 'hi',
    };
    const back = codec.decode(codec.encode(value));
    expect(back).toEqual({ ...value, blob: Uint8Array.of(1, 2, 3), choice: 'note' });
    const { blob, ...empty } = codec.decode(codec.encode({}));
    expect(empty).toEqual({ item_id: '', count: '0', kind: 'KIND_UNKNOWN', price: null, tags: [], stock: {} });
    expect(blob).toBeInstanceOf(Uint8Array);
    expect((blob as Uint8Array).length).toBe(0);
    expect(codec.decode(codec.encode({ count: 5, kind: 2 })).kind).toBe('FOOD');
  });

  it('refuses a value that does not match its type with a coded SERIALIZATION error naming the field', () => {
    const codec = shop.method('Get').request;
    const cases: Array<[unknown, RegExp]> = [
      [{ item_id: 5 }, /item_id must be a string/],
      [{ count: 'many' }, /count must be a int64/],
      [{ kind: 'TOY' }, /kind must be a value of enum shop.Kind/],
      [{ price: { amount: 'x' } }, /price.amount must be a number/],
      [{ tags: 'a' }, /tags is repeated/],
      [{ stock: { a: 1.5 } }, /stock\["a"\] must be a int32/],
      [{ nope: 1 }, /nope is not a field of shop.Item/],
      ['text', /must be an object/],
    ];
    for (const [value, message] of cases) {
      const e = thrown(() => codec.encode(value));
      expect(e).toBeInstanceOf(RpcError);
      expect(e.code).toBe(RpcCode.SERIALIZATION);
      expect(e.reason).toBe('PLEXUS_ERR_PROTOBUF_ENCODE');
      expect(e.message).toMatch(message);
    }
  });

  it('refuses malformed and truncated bodies with a coded error', () => {
    const codec = shop.method('Get').request;
    const bytes = codec.encode({ item_id: 'x'.repeat(50), tags: ['t'] });
    const e = thrown(() => codec.decode(bytes.subarray(0, 10)));
    expect(e.code).toBe(RpcCode.SERIALIZATION);
    expect(e.reason).toBe('PLEXUS_ERR_PROTOBUF_DECODE');
    // field 1, length-delimited, declaring 2^28 bytes with none present
    expect(thrown(() => codec.decode(Uint8Array.of(0x0a, 0x80, 0x80, 0x80, 0x80, 0x01))).reason).toBe('PLEXUS_ERR_PROTOBUF_DECODE');
  });

  it('refuses a recursive message nested past the stack without crashing', () => {
    const codec = shop.method('Chain').request;
    // Node.child nested 100 000 deep (about 400 KB): lengths computed inside out, written outside in.
    const depth = 100_000;
    const varint = (n: number): number[] => {
      const out: number[] = [];
      do {
        out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
        n >>>= 7;
      } while (n);
      return out;
    };
    const lengths = [0];
    for (let i = 1; i < depth; i++) lengths.push(1 + varint(lengths[i - 1]).length + lengths[i - 1]);
    const bytes: number[] = [];
    for (let i = depth - 1; i >= 0; i--) bytes.push(0x12, ...varint(lengths[i]));
    const body = Uint8Array.from(bytes);
    const started = Date.now();
    const e = thrown(() => codec.decode(body));
    expect(e.code).toBe(RpcCode.SERIALIZATION);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('bounds the message size on both ways', () => {
    const small = loadProto(fixture('shop.proto'), { maxMessageSize: 64 }).service('shop.Shop').method('Get').request;
    expect(thrown(() => small.encode({ item_id: 'x'.repeat(100) })).reason).toBe('PLEXUS_ERR_PROTOBUF_TOO_LARGE');
    const big = shop.method('Get').request.encode({ item_id: 'x'.repeat(100) });
    expect(thrown(() => small.decode(big)).reason).toBe('PLEXUS_ERR_PROTOBUF_TOO_LARGE');
  });

  it('reports a malformed .proto with its file and line', () => {
    const e = thrown(() => loadProto(fixture('broken.proto')));
    expect(e.code).toBe('PLEXUS_ERR_PROTOBUF_PARSE');
    expect(e.message).toContain('broken.proto');
    expect(e.message).toMatch(/line 6/);
    expect(thrown(() => loadProto(fixture('absent.proto'))).message).toMatch(/no such file/);
  });

  it('names the services a file has when the wanted one is missing, and the methods for a missing method', () => {
    const file = loadProto(fixture('shop.proto'));
    expect(thrown(() => file.service('shop.Shops')).message).toMatch(/declares: shop.Shop/);
    const m = thrown(() => shop.method('get'));
    expect(m.code).toBe(RpcCode.SERIALIZATION);
    expect(m.message).toMatch(/Get, Chain, Watch/);
  });
});

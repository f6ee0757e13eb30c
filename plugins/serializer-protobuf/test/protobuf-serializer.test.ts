import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { RpcCode, RpcError } from '@plexus/kernel/spi';
import { serializerContract } from '@plexus/kernel/testing';
import { ProtobufSerializer } from '../src';

serializerContract('protobuf', () => new ProtobufSerializer());

describe('protobuf serializer: google.protobuf.Value on the wire', () => {
  const s = new ProtobufSerializer();
  // protobufjs's bundled struct.proto: an independent reader of the same well-known type
  const root = protobuf.loadSync(path.join(path.dirname(require.resolve('protobufjs')), 'google', 'protobuf', 'struct.proto'));
  const Value = root.lookupType('google.protobuf.Value');

  it('writes bodies any protobuf runtime reads as google.protobuf.Value', () => {
    const body = s.serialize({ name: 'ada', n: 2.5, ok: true, none: null, list: [1, 'two'] });
    const decoded = Value.toObject(Value.decode(body)) as { structValue: { fields: Record<string, unknown> } };
    expect(Object.keys(decoded.structValue.fields).sort()).toEqual(['list', 'n', 'name', 'none', 'ok']);
    expect(decoded.structValue.fields.name).toEqual({ stringValue: 'ada' });
    // and reads what protobufjs writes
    const theirs = Value.encode(Value.fromObject({ listValue: { values: [{ numberValue: 1 }, { stringValue: 'x' }, { boolValue: false }] } })).finish();
    expect(s.deserialize(theirs)).toEqual([1, 'x', false]);
  });

  it('leaves undefined members out, honours toJSON, refuses what has no Value form with a coded error', () => {
    expect(s.deserialize(s.serialize({ a: undefined, b: 1, at: new Date(0) }))).toEqual({ b: 1, at: '1970-01-01T00:00:00.000Z' });
    for (const bad of [10n, Buffer.from('x'), Symbol('s')]) {
      let caught: unknown;
      try {
        s.serialize(bad);
      } catch (err) {
        caught = err;
      }
      expect([typeof bad, RpcError.is(caught), (caught as RpcError).code]).toEqual([typeof bad, true, RpcCode.SERIALIZATION]);
    }
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => s.serialize(cycle)).toThrow(/deeper than 1000/);
  });

  it('bounds the body size both ways (maxMessageSize)', () => {
    const small = new ProtobufSerializer({ maxMessageSize: 64 });
    expect(() => small.serialize('x'.repeat(100))).toThrow(/maxMessageSize/);
    expect(() => small.deserialize(s.serialize('x'.repeat(100)))).toThrow(/maxMessageSize/);
  });
});

'use strict';
/**
 * The `checkedjson` serializer (wire id 200): the body of the built-in `json` serializer followed
 * by 4 bytes of FNV-1a checksum over it. A body whose checksum does not match is refused with a
 * coded `SERIALIZATION` error before anything is parsed.
 *
 * It builds on `json` (taken with `ctx.resolve`, never required directly), so it inherits json's
 * hostile-input bounds: depth and element limits, no prototype keys, linear time.
 * Scope: one instance per application, stateless between calls.
 */
const { definePlugin, RpcError, RpcCode } = require('@plexus/kernel/spi');

/** Wire id: unique among serializers (json is 1, msgpack 2); 200+ is a safe range for your own. */
const ID = 200;
const TRAILER = 4;
/** Bodies handled by every instance in this process; the example prints them. */
const stats = { encoded: 0, decoded: 0 };

/** FNV-1a, 32 bits: cheap, and good enough to catch accidental corruption (not an attacker). */
function fnv1a(bytes, end) {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

function refused(why) {
  return new RpcError(`checkedjson: ${why}; the body was damaged on the way, or the peer does not speak checkedjson`, RpcCode.SERIALIZATION, {
    retryable: false,
  });
}

class CheckedJsonSerializer {
  constructor(json) {
    this.id = ID;
    this.name = 'checkedjson';
    this.json = json;
  }

  serialize(value) {
    const body = this.json.serialize(value);
    const out = new Uint8Array(body.length + TRAILER);
    out.set(body, 0);
    new DataView(out.buffer).setUint32(body.length, fnv1a(body, body.length));
    stats.encoded++;
    return out;
  }

  deserialize(bytes, limits) {
    if (bytes.length < TRAILER) throw refused(`a ${bytes.length}-byte body is shorter than its checksum`);
    const end = bytes.length - TRAILER;
    const sent = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(end);
    if (sent !== fnv1a(bytes, end)) throw refused(`checksum mismatch over ${end} bytes`);
    stats.decoded++;
    return this.json.deserialize(bytes.subarray(0, end), limits);
  }
}

module.exports = definePlugin({
  name: 'plexus-serializer-checkedjson',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'serializer',
      name: 'checkedjson',
      id: ID,
      create: (ctx) => new CheckedJsonSerializer(ctx.resolve('serializer', 'json')),
    },
  ],
});
module.exports.CheckedJsonSerializer = CheckedJsonSerializer;
module.exports.stats = stats;

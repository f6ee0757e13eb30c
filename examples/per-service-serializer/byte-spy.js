'use strict';
// A serializer *wrapper* (`wrapper: true`): the kernel puts it around every serializer of the
// application it is loaded in, and hands it the real one as `ctx.inner`. It changes nothing; it
// prints each body with the name of the serializer that encoded or decoded it, and notes that
// name in `used` (run.js reads it to check each service's choice).
const { definePlugin } = require('@plexus/kernel/spi');

/** Bodies longer than this are cut in the printout. */
const SHOW_BYTES = 48;

function show(bytes) {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hex = view.subarray(0, SHOW_BYTES).toString('hex').replace(/(..)/g, '$1 ').trim();
  const text = view.subarray(0, SHOW_BYTES).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `${bytes.byteLength} bytes  ${hex}${bytes.byteLength > SHOW_BYTES ? ' ...' : ''}\n      as text: ${text}`;
}

/** Names of the serializers that handled a body, in order; run.js empties it between calls. */
const used = [];

module.exports = definePlugin({
  name: 'byte-spy',
  extensions: [
    {
      point: 'serializer',
      name: 'byte-spy',
      wrapper: true,
      create: (ctx) => {
        const inner = ctx.inner;
        return {
          id: inner.id,
          name: inner.name,
          serialize(value, ...rest) {
            const bytes = inner.serialize(value, ...rest);
            used.push(inner.name);
            console.log(`  [${inner.name}] encoded ${show(bytes)}`);
            return bytes;
          },
          deserialize(bytes, ...rest) {
            used.push(inner.name);
            console.log(`  [${inner.name}] decoding ${show(bytes)}`);
            return inner.deserialize(bytes, ...rest);
          },
        };
      },
    },
  ],
});
module.exports.used = used;

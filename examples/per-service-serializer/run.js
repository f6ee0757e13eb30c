'use strict';
// `node examples/per-service-serializer/run.js`: a provider serves demo.Catalog with msgpack and
// demo.Audit with json; a consumer finds both through a `local` registry and calls each. The
// consumer's byte-spy.js prints the bytes each serializer put on the wire (real loopback TCP:
// two applications, so no in-process shortcut). Exits 0 when each service's bodies came in the
// serializer its config names, 1 otherwise.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Plexus } = require('@plexus/kernel');

/** The run takes about a second; past this something is wrong. */
const GIVE_UP_MS = 20_000;

/** Which serializer the provider's config gives each service. */
const EXPECTED = { catalog: 'msgpack', audit: 'json' };

async function main(registryDir) {
  const registry = { type: 'local', address: registryDir };
  const provider = await Plexus.fromConfig(path.join(__dirname, 'provider.yaml'), { logLevel: 'warn', registry });
  await provider.start();
  for (const url of provider.exportedUrls()) {
    console.log(`[provider] ${url.path} on ${url.address}, its URL says serializer=${url.getParam('serializer', '(the protocol default)')}`);
  }

  const consumer = await Plexus.fromConfig(path.join(__dirname, 'consumer.yaml'), { logLevel: 'warn', registry });
  const seen = require('./byte-spy').used; // the same module the config's plugins: entry loaded
  await consumer.start();
  let wrong = 0;
  try {
    for (const id of Object.keys(EXPECTED)) {
      console.log(`[consumer] ${id}.item(7):`);
      seen.length = 0;
      const answer = await consumer.reference(id).item(7);
      console.log(`[consumer] ${id}.item(7) = ${JSON.stringify(answer)}`);
      const used = [...new Set(seen)];
      const ok = used.length === 1 && used[0] === EXPECTED[id];
      if (!ok) wrong++;
      console.log(`[consumer] ${id} bodies were ${used.join(' and ')}${ok ? '' : ` — expected ${EXPECTED[id]}`}`);
    }
  } finally {
    await consumer.stop();
    await provider.stop();
  }
  if (wrong) throw new Error(`${wrong} service(s) used another serializer than configured`);
  console.log('[demo] done: each service spoke its own serializer');
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-serializers-'));
function finish(code, why) {
  if (why) console.error(`[demo] ${why}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}
const timer = setTimeout(() => finish(1, `gave up after ${GIVE_UP_MS / 1000} s`), GIVE_UP_MS);
timer.unref();
main(tmp).then(
  () => finish(0),
  (err) => finish(1, `${err.code ?? ''} ${err.message}`),
);

'use strict';
// `node examples/custom-plugin/run.js`: two plugins written here, as local packages, chosen by
// name in config.
//
// 1. three providers of demo.Echo start (two in zone "eu", one in "us"), encoding with the
//    `checkedjson` serializer of ./plugins/plexus-serializer-checkedjson;
// 2. a consumer in zone "eu" calls through the `zone` load balancer of
//    ./plugins/plexus-loadbalance-zone: every call stays in eu, spread over its two providers;
// 3. both eu providers stop: calls spill over to us;
// 4. a damaged checkedjson body is refused with a coded error.
// Exits 0 when each step behaved so, 1 otherwise. All applications run in this process, each
// with its own port, over loopback TCP and a `local` registry in a fresh temp folder.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Plexus } = require('@plexus/kernel');

/** The run takes a second or two; past this something is wrong. */
const GIVE_UP_MS = 30_000;
/** Calls per step: enough that random choice all but surely reaches both eu providers (2 × 2⁻²⁰ that it does not). */
const CALLS = 20;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-custom-plugin-'));
const registry = { type: 'local', address: tmp };
const apps = [];

async function startProvider(label, zone) {
  const app = await Plexus.fromConfig(path.join(__dirname, 'provider.yaml'), {
    logLevel: 'warn',
    registry,
    application: { name: `echo-${label}` },
    services: [{ interface: 'demo.Echo', 'zone.name': zone, implementation: { echo: (text) => ({ text, by: label }) } }],
  });
  await app.start();
  apps.push(app);
  const url = app.exportedUrls()[0];
  console.log(`[provider ${label}] zone=${url.params['zone.name']} serializer=${url.params.serializer} on ${url.address}`);
  return app;
}

async function callMany(echo, step) {
  const by = new Map();
  for (let i = 0; i < CALLS; i++) {
    const answer = await echo.echo(`${step} ${i}`);
    by.set(answer.by, (by.get(answer.by) ?? 0) + 1);
  }
  const spread = [...by].sort().map(([label, n]) => `${n} by ${label}`).join(', ');
  console.log(`[consumer] ${step}: ${CALLS} calls answered: ${spread}`);
  return by;
}

function expect(ok, what) {
  if (!ok) throw new Error(`unexpected: ${what}`);
}

async function main() {
  const [eu1, eu2] = [await startProvider('eu-1', 'eu'), await startProvider('eu-2', 'eu'), await startProvider('us-1', 'us')];

  const consumer = await Plexus.fromConfig(path.join(__dirname, 'consumer.yaml'), { logLevel: 'warn', registry });
  await consumer.start();
  apps.push(consumer);
  const echo = consumer.reference('echo');
  // check: true waits for the first provider only; give the registry a moment to list all three.
  await new Promise((resolve) => setTimeout(resolve, 500));

  const near = await callMany(echo, 'all three up');
  expect(!near.has('us-1') && near.size === 2, 'calls should stay in zone eu and use both eu providers');

  for (const app of [eu1, eu2]) {
    await app.stop();
    apps.splice(apps.indexOf(app), 1);
  }
  console.log('[demo] both eu providers stopped');
  const far = await callMany(echo, 'eu down');
  expect(far.size === 1 && far.has('us-1'), 'calls should spill over to us-1');

  // The serializer's own class, outside any application, to show its check.
  const { CheckedJsonSerializer, stats } = require('./plugins/plexus-serializer-checkedjson/checked-json-serializer');
  const { JsonSerializer } = require('@plexus/serializer-json');
  console.log(`[demo] checkedjson bodies so far, both sides: ${stats.encoded} encoded, ${stats.decoded} decoded`);
  expect(stats.encoded >= 2 * CALLS && stats.decoded >= 2 * CALLS, 'every call should have gone through checkedjson');
  const checked = new CheckedJsonSerializer(new JsonSerializer());
  const body = checked.serialize({ text: 'hello' });
  body[3] ^= 0xff; // one damaged byte
  try {
    checked.deserialize(body);
    expect(false, 'a damaged body was accepted');
  } catch (err) {
    console.log(`[demo] a damaged checkedjson body is refused: ${err.code} ${err.message}`);
  }
  console.log('[demo] done');
}

async function finish(code, why) {
  if (why) console.error(`[demo] ${why}`);
  await Promise.allSettled(apps.map((app) => app.stop()));
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}
const timer = setTimeout(() => finish(1, `gave up after ${GIVE_UP_MS / 1000} s`), GIVE_UP_MS);
timer.unref();
main().then(
  () => finish(0),
  (err) => finish(1, `${err.code ?? ''} ${err.message}`),
);

'use strict';
// Calls demo.Clock through ZooKeeper and prints which provider answered each call, and every
// provider that joins or leaves its list (the `provider:up` / `provider:down` events).
//
// Started by run.js (with an IPC channel) it follows the script: a round of calls, then a steady
// loop while run.js kills one provider with SIGKILL, until ZooKeeper drops the dead provider's
// entry, then a last round; it exits 1 if any call failed. Started by hand it calls once a
// second until Ctrl-C.
const path = require('node:path');
const { Plexus } = require('@plexus/kernel');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Bounds the wait for ZooKeeper to drop the killed provider (its sessionTimeout is 4 s). */
const DROP_WAIT_MS = 20_000;

async function round(clock, label, calls) {
  const by = new Map();
  for (let i = 0; i < calls; i++) {
    const answer = await clock.now();
    by.set(answer.by, (by.get(answer.by) ?? 0) + 1);
    console.log(`[consumer] ${label} call ${i + 1} answered by provider ${answer.by}`);
  }
  return by;
}

/** Follows the reference's provider list through the app's events; attach before start(). */
function watchProviders(app) {
  const listed = new Set();
  let dropped;
  const dropSeen = new Promise((resolve) => (dropped = resolve));
  app.on('provider:up', (e) => listed.add(e.address));
  app.on('provider:down', (e) => {
    listed.delete(e.address);
    console.log(`[consumer] ZooKeeper no longer lists ${e.address}; ${listed.size} provider(s) left`);
    dropped();
  });
  return { listed, dropSeen };
}

async function scripted(clock, { listed, dropSeen }) {
  // check: true waited for the first provider; give the registry a moment to list all three.
  for (let i = 0; i < 50 && listed.size < 3; i++) await sleep(100);
  console.log(`[consumer] ${listed.size} providers listed; round-robin over them:`);
  await round(clock, 'first round', 6);

  process.send({ killOne: true });
  const killed = await new Promise((resolve) => process.once('message', resolve));
  console.log(`[consumer] calling on while provider ${killed.label} is dead but still listed:`);
  let calls = 0;
  let failed = 0;
  const by = new Map();
  let waiting = true;
  const deadline = setTimeout(() => (waiting = false), DROP_WAIT_MS);
  dropSeen.then(() => (waiting = false));
  while (waiting) {
    calls++;
    try {
      const answer = await clock.now();
      by.set(answer.by, (by.get(answer.by) ?? 0) + 1);
    } catch (err) {
      failed++;
      console.log(`[consumer] call FAILED: ${err.code ?? ''} ${err.message.split('\n')[0]}`);
    }
    await sleep(20);
  }
  clearTimeout(deadline);
  const spread = [...by].sort().map(([label, n]) => `${n} by ${label}`).join(', ');
  console.log(`[consumer] meanwhile: ${calls} calls, ${failed} failed (${spread})`);
  if (listed.size !== 2) {
    console.log(`[consumer] expected ZooKeeper to drop the killed provider within ${DROP_WAIT_MS / 1000} s`);
    failed++;
  }
  const last = await round(clock, 'last round', 4);
  if (last.has(killed.label)) failed++;
  return failed;
}

async function byHand(clock) {
  let running = true;
  process.once('SIGINT', () => (running = false));
  for (let n = 1; running; n++) {
    try {
      console.log(`call ${n} answered by provider ${(await clock.now()).by}`);
    } catch (err) {
      console.log(`call ${n} failed: ${err.code ?? ''} ${err.message.split('\n')[0]}`);
    }
    await sleep(1000);
  }
}

(async () => {
  const app = await Plexus.fromConfig(path.join(__dirname, 'consumer.yaml'));
  if (process.send) process.on('disconnect', () => process.exit(1)); // never outlive run.js
  const providers = watchProviders(app);
  await app.start();
  const clock = app.reference('clock');
  let failed = 0;
  try {
    if (process.send) failed = await scripted(clock, providers);
    else await byHand(clock);
  } finally {
    await app.stop();
  }
  process.exit(failed === 0 ? 0 : 1);
})().catch((err) => {
  console.error(`[consumer] ${err.code ?? ''} ${err.message}`);
  process.exit(1);
});

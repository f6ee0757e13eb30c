'use strict';
// Finds hello.Greeter's providers with no address and calls them in turn, printing which
// provider (pid) answered each call.
//
// Started by run.js (with an IPC channel) it runs the demo's script: a few calls, then a steady
// loop while run.js stops one provider, then a few calls more; it exits 1 if any call failed.
// Started by hand (`node consumer.js`) it calls once a second until Ctrl-C.
const path = require('node:path');
const { Plexus } = require('@plexus/kernel');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(greeter, n) {
  const answer = await greeter.sayHello(`call ${n}`);
  return answer.pid;
}

async function scripted(greeter) {
  let n = 0;
  console.log('[consumer] two providers, round-robin:');
  for (let i = 0; i < 6; i++) console.log(`[consumer] call ${++n} answered by provider ${await call(greeter, n)}`);

  // A steady loop while run.js stops one provider: every call must still succeed.
  let stopped;
  const stoppedMessage = new Promise((resolve) => process.once('message', resolve));
  stoppedMessage.then((m) => (stopped = m));
  process.send({ stopOne: true });
  const byProvider = new Map();
  let calls = 0;
  let failed = 0;
  while (stopped === undefined) {
    calls++;
    n++;
    try {
      const pid = await call(greeter, n);
      byProvider.set(pid, (byProvider.get(pid) ?? 0) + 1);
    } catch (err) {
      failed++;
      console.log(`[consumer] call ${n} FAILED: ${err.code ?? ''} ${err.message}`);
    }
    await sleep(5);
  }
  const spread = [...byProvider].map(([pid, count]) => `${count} by ${pid}`).join(', ');
  console.log(`[consumer] around the stop of provider ${stopped.pid}: ${calls} calls, ${failed} failed (${spread})`);

  console.log('[consumer] one provider left:');
  for (let i = 0; i < 4; i++) console.log(`[consumer] call ${++n} answered by provider ${await call(greeter, n)}`);
  return failed;
}

async function byHand(greeter) {
  let n = 0;
  let running = true;
  process.once('SIGINT', () => (running = false));
  while (running) {
    n++;
    try {
      console.log(`call ${n} answered by provider ${await call(greeter, n)}`);
    } catch (err) {
      console.log(`call ${n} failed: ${err.code ?? ''} ${err.message.split('\n')[0]}`);
    }
    await sleep(1000);
  }
}

(async () => {
  const app = await Plexus.fromConfig(path.join(__dirname, 'consumer.yaml'));
  await app.start();
  const greeter = app.reference('greeter');
  let failed = 0;
  try {
    // Started by run.js: never outlive it.
  if (process.send) process.on('disconnect', () => process.exit(1));
  if (process.send) failed = await scripted(greeter);
    else await byHand(greeter);
  } finally {
    await app.stop();
  }
  process.exit(failed === 0 ? 0 : 1);
})().catch((err) => {
  console.error(`[consumer] ${err.code ?? ''} ${err.message}`);
  process.exit(1);
});

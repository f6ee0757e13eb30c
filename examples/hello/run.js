'use strict';
// `npm run demo`: discovery with no address and no set-up.
//
// 1. starts two providers (provider.js) on free ports; they register in the embedded `local` registry;
// 2. starts a consumer (consumer.js) that finds both there and calls them in turn;
// 3. stops one provider with SIGTERM while the consumer keeps calling: no call fails;
// 4. stops everything and exits 0 (1 if anything went wrong).
//
// The children run with a temp folder of their own (TMPDIR, TMP and TEMP), so the default
// registry folder, `<os tmpdir>/plexus-registry`, is this run's alone: two demos, or a demo and a
// test suite, never see each other's providers. The folder is removed at the end.
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** The whole demo takes a few seconds; past this something is wrong. */
const GIVE_UP_MS = 45_000;
/** How long the consumer's loop runs before and after the SIGTERM, so calls overlap the stop. */
const OVERLAP_MS = 300;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-hello-'));
const env = { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp };
const children = new Set();

function start(script) {
  const child = fork(path.join(__dirname, script), { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return child;
}

/** Kills what is still running (by PID), removes the temp folder, exits. */
function finish(code, why) {
  if (why) console.error(`[demo] ${why}`);
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}

function ready(provider) {
  return new Promise((resolve, reject) => {
    provider.once('message', resolve);
    provider.exited.then(({ code, signal }) => reject(new Error(`a provider exited before it was ready (${signal ?? `exit ${code}`})`)));
  });
}

async function stop(child, name) {
  child.kill('SIGTERM');
  const { code, signal } = await child.exited;
  if (code !== 0) throw new Error(`${name} did not stop cleanly (${signal ?? `exit ${code}`})`);
}

async function main() {
  console.log(`[demo] registry folder: ${path.join(tmp, 'plexus-registry')} (the default, under this run's temp dir)`);
  const providers = [start('provider.js'), start('provider.js')];
  const [a, b] = await Promise.all(providers.map(ready));
  console.log(`[demo] providers up: ${a.pid} on port ${a.port}, ${b.pid} on port ${b.port}`);

  const consumer = start('consumer.js');
  console.log(`[demo] consumer ${consumer.pid} started; it is given no address`);
  consumer.exited.then(({ code }) => {
    if (code !== 0 && code !== null) finish(code, `the consumer exited with code ${code}`);
  });
  await new Promise((resolve) => consumer.once('message', resolve)); // { stopOne: true }
  await new Promise((resolve) => setTimeout(resolve, OVERLAP_MS));
  console.log(`[demo] SIGTERM to provider ${a.pid}`);
  await stop(providers[0], `provider ${a.pid}`);
  console.log(`[demo] provider ${a.pid} has stopped`);
  await new Promise((resolve) => setTimeout(resolve, OVERLAP_MS));
  consumer.send({ pid: a.pid });

  const { code } = await consumer.exited;
  if (code !== 0) throw new Error(`the consumer exited with code ${code}`);
  console.log(`[demo] SIGTERM to provider ${b.pid}`);
  await stop(providers[1], `provider ${b.pid}`);
  console.log('[demo] done: every process stopped');
}

const timer = setTimeout(() => finish(1, `gave up after ${GIVE_UP_MS / 1000} s`), GIVE_UP_MS);
timer.unref();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => finish(1, `${signal}: stopped`));
main().then(
  () => finish(0),
  (err) => finish(1, err.message),
);

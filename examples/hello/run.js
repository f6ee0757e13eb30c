'use strict';
// `npm run demo`: starts the provider as a child process, runs the consumer in another, then
// stops the provider with SIGTERM (a graceful stop) by its PID.
const { fork } = require('node:child_process');
const path = require('node:path');

const provider = fork(path.join(__dirname, 'provider.js'), { stdio: 'inherit' });
const giveUp = setTimeout(() => {
  console.error('[demo] the provider did not start within 15 s');
  provider.kill('SIGKILL');
  process.exit(1);
}, 15000);

provider.on('exit', (code) => {
  if (code) {
    console.error(`[demo] provider exited with code ${code}`);
    process.exit(code);
  }
});
provider.once('message', () => {
  clearTimeout(giveUp);
  const consumer = fork(path.join(__dirname, 'consumer.js'), { stdio: 'inherit' });
  consumer.on('exit', (code) => {
    provider.removeAllListeners('exit');
    provider.once('exit', (pcode, signal) => {
      console.log(`[demo] provider stopped (${signal ?? `exit ${pcode}`}); consumer exit ${code}`);
      process.exit(code ?? 1);
    });
    provider.kill('SIGTERM');
  });
});

'use strict';
// Starts one provider from provider.yaml on a free port. SIGTERM or SIGINT stops it gracefully
// (the application handles them): it leaves the registry first, then finishes its calls.
const path = require('node:path');
const { Plexus } = require('@plexus/kernel');

(async () => {
  const app = await Plexus.fromConfig(path.join(__dirname, 'provider.yaml'));
  await app.start();
  const url = app.exportedUrls().find((u) => u.protocol === 'plexus');
  console.log(`[provider ${process.pid}] serving ${url.protocol}://${url.address}/${url.path}, registered in the local registry`);
  if (process.send) {
    process.send({ ready: true, pid: process.pid, port: url.port });
    // Started by run.js: never outlive it, even if it was killed.
    process.on('disconnect', () => {
      app.stop().finally(() => process.exit(0));
    });
  }
})().catch((err) => {
  console.error(`[provider ${process.pid}] ${err.code ?? ''} ${err.message}`);
  process.exit(1);
});

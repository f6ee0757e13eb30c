'use strict';
// One provider from provider.yaml. Started by run.js (with an IPC channel) it reports its port and
// dies with run.js; started by hand (`node provider.js`, ZooKeeper on 127.0.0.1:2181) it runs
// until SIGTERM/SIGINT, which stop it gracefully (the application handles them).
const path = require('node:path');
const { Plexus } = require('@plexus/kernel');

(async () => {
  const app = await Plexus.fromConfig(path.join(__dirname, 'provider.yaml'));
  await app.start();
  const url = app.exportedUrls().find((u) => u.protocol === 'plexus');
  const label = process.env.PROVIDER_LABEL ?? `pid ${process.pid}`;
  console.log(`[provider ${label}] pid ${process.pid} serving on ${url.address}, registered in ZooKeeper`);
  if (process.send) {
    process.send({ ready: true, pid: process.pid, address: url.address });
    process.on('disconnect', () => app.stop().finally(() => process.exit(0)));
  }
})().catch((err) => {
  console.error(`[provider] ${err.code ?? ''} ${err.message}`);
  process.exit(1);
});

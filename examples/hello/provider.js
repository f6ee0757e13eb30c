'use strict';
// Starts the provider from provider.yaml; SIGTERM or SIGINT stops it gracefully.
const path = require('node:path');
const { Plexus } = require('@plexus/kernel');

(async () => {
  const app = await Plexus.fromConfig(path.join(__dirname, 'provider.yaml'));
  await app.start();
  for (const url of app.exportedUrls()) console.log(`[provider ${process.pid}] serving ${url.protocol}://${url.address}/${url.path}`);
  if (process.send) process.send({ ready: true });
})().catch((err) => {
  console.error(`[provider] ${err.message}`);
  process.exit(1);
});

'use strict';
// Calls the provider through two references (msgpack and json) and a generic call.
const path = require('node:path');
const { Plexus } = require('@plexus/kernel');

(async () => {
  const app = await Plexus.fromConfig(path.join(__dirname, 'consumer.yaml'));
  await app.start();
  const greeter = app.reference('greeter');
  const greeterJson = app.reference('greeterJson');

  console.log('sayHello        →', await greeter.sayHello('ada'));
  console.log('whoAmI          →', await greeter.whoAmI());
  const viaMsgpack = await greeter.stats([1, 2, 3, 4]);
  const viaJson = await greeterJson.stats([1, 2, 3, 4]);
  console.log('stats (msgpack) →', viaMsgpack, `(at is a ${viaMsgpack.at.constructor.name})`);
  console.log('stats (json)    →', viaJson, `(at is a ${typeof viaJson.at})`);
  const generic = app.generic('demo.Greeter', { version: '1.0.0', url: 'plexus://127.0.0.1:20880' });
  console.log('generic call    →', await generic.$invoke('sayHello', ['bob']));
  try {
    await greeter.fail('no reason');
  } catch (err) {
    console.log('business error  →', `${err.code}: ${err.remoteName}: ${err.message}`);
  }
  await app.stop();
})().catch((err) => {
  console.error(`[consumer] ${err.code ?? ''} ${err.message}`);
  process.exit(1);
});

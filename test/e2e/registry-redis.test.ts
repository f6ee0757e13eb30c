import { serverFlows } from '../fixtures/registries/harness';

/**
 * Issue 8's flows over a real Redis, from packed tarballs. The server keeps nothing on disk, so a
 * restart comes back empty: the providers must write themselves back.
 */
serverFlows({
  name: 'redis',
  script: 'redis',
  port: 26390,
  // A short expiry, so a SIGKILLed provider's entries go within seconds.
  registry: () => ({ type: 'redis', address: `127.0.0.1:26390`, expirePeriod: 3000 }),
  killedGoneWithinMs: 15_000,
});

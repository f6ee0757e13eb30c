import { serverFlows } from '../fixtures/registries/harness';

/** Issue 8's flows over a real etcd (restarted on its own data folder), from packed tarballs; peer port = client port + 5. */
serverFlows({
  name: 'etcd',
  script: 'etcd',
  port: 23830,
  // A short lease, so a SIGKILLed provider's entries go within seconds.
  registry: () => ({ type: 'etcd', address: `127.0.0.1:23830`, ttl: 3000 }),
  killedGoneWithinMs: 15_000,
});

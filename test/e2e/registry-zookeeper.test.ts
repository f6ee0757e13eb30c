import { serverFlows } from '../fixtures/registries/harness';

/** Issue 8's flows over a real ZooKeeper (restarted on its own data folder), from packed tarballs. */
serverFlows({
  name: 'zookeeper',
  script: 'zookeeper',
  port: 21830,
  // A short session, so a SIGKILLed provider's ephemeral entry goes within seconds.
  registry: () => ({ type: 'zookeeper', address: `127.0.0.1:21830`, sessionTimeout: 4000 }),
  killedGoneWithinMs: 20_000,
});

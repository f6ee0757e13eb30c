/**
 * Moleculer peer, client process: a second broker that reaches the server node through the
 * static `urls` list and calls `bench.echo`.
 */
import { ServiceBroker } from 'moleculer';
import { hostClient, promiseCaller, verify } from '../peer-host';
import { benchPayload } from '../payload';
import { LoopbackTcpTransporter, LOOPBACK, SERVER_NODE } from './moleculer-loopback';

hostClient(async (args) => {
  const payload = benchPayload();
  const broker = new ServiceBroker({
    nodeID: 'bench-client',
    namespace: 'plexus-bench',
    transporter: new LoopbackTcpTransporter({ udpDiscovery: false, urls: [`${LOOPBACK}:${args.port}/${SERVER_NODE}`] }),
    logger: false,
    metrics: false,
    tracing: false,
    requestTimeout: 5000,
  });
  await broker.start();
  await broker.waitForServices(['bench'], 15_000);
  const once = () => broker.call('bench.echo', payload);
  await verify(once, payload);
  return {
    createCaller: promiseCaller(once),
    close: () => broker.stop(),
  };
});

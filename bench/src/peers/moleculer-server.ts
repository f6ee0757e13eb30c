/**
 * Moleculer peer, server process: a ServiceBroker with the TCP transporter (loopback, static
 * discovery, default JSON serializer) and one `bench.echo` action.
 */
import { ServiceBroker, type Context } from 'moleculer';
import { hostServer } from '../peer-host';
import { LoopbackTcpTransporter, SERVER_NODE } from './moleculer-loopback';

hostServer(async () => {
  const broker = new ServiceBroker({
    nodeID: SERVER_NODE,
    namespace: 'plexus-bench',
    transporter: new LoopbackTcpTransporter({ udpDiscovery: false }),
    logger: false,
    metrics: false,
    tracing: false,
  });
  broker.createService({
    name: 'bench',
    actions: {
      echo(ctx: Context<unknown>) {
        return ctx.params;
      },
    },
  });
  await broker.start();
  const port = (broker.transit?.tx as unknown as { opts: { port: number } }).opts.port;
  return {
    port,
    info: { moleculer: ServiceBroker.MOLECULER_VERSION, serializer: 'JSON' },
    close: () => broker.stop(),
  };
});

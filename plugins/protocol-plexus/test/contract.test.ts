import { URL, type Serializer, type Transport } from '@plexus/kernel/spi';
import { fakeExtensionContext, MemoryTransport, protocolContract } from '@plexus/kernel/testing';
import { MsgpackSerializer } from '@plexus/serializer-msgpack';
import { TcpTransport } from '@plexus/transport-tcp';
import { PlexusProtocol } from '../src/plexus-protocol';

/** A plexus protocol on 127.0.0.1, built through a hand-made context as the kernel would build it. */
function plexusOver(transport: Transport): PlexusProtocol {
  const serializers: Serializer[] = [new MsgpackSerializer()];
  const ctx = fakeExtensionContext(
    { host: '127.0.0.1', port: 0, heartbeat: 0 },
    {
      resolve: (point, name) => {
        if (point === 'transport') return transport;
        const found = point === 'serializer' ? serializers.find((s) => s.name === name) : undefined;
        if (!found) throw new Error(`No ${point} named "${name}"`);
        return found;
      },
      resolveById: (point, id) => (point === 'serializer' ? serializers.find((s) => s.id === id) : undefined),
    },
  );
  return new PlexusProtocol(ctx);
}

const url = (port: number) => URL.parse(`plexus://127.0.0.1:${port}/demo.Greeter`);

protocolContract('plexus over TCP on 127.0.0.1', () => ({ protocol: plexusOver(new TcpTransport()), url }));
protocolContract('plexus over the in-memory transport, versioned service', () => ({
  protocol: plexusOver(new MemoryTransport({ fragment: { seed: 11, maxChunk: 1500 } })),
  url: (port: number) => URL.parse(`plexus://127.0.0.1:${port}/demo.Greeter?version=2.1.0&group=blue`),
}));

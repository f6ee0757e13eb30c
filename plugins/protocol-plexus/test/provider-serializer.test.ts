import { Plexus, definePlugin, type Serializer } from '@plexus/kernel';
import { MemoryRegistry, memoryRegistryPlugin } from '@plexus/kernel/testing';

/**
 * A consumer that names no serializer uses the one the provider publishes on its URL (Dubbo's
 * rule); one that names a serializer keeps its own. Observed through a counting serializer.
 */
const used: string[] = [];
function counting(name: string, id: number): Serializer {
  return {
    id,
    name,
    serialize(value: unknown) {
      used.push(name);
      return Buffer.from(JSON.stringify(value));
    },
    deserialize(bytes: Uint8Array) {
      return JSON.parse(Buffer.from(bytes).toString());
    },
  };
}
const codecs = definePlugin({
  name: 'counting-serializers',
  extensions: [
    { point: 'serializer', name: 'countA', id: 101, create: () => counting('countA', 101) },
    { point: 'serializer', name: 'countB', id: 102, create: () => counting('countB', 102) },
  ],
});

async function run(reference: Record<string, unknown>): Promise<string[]> {
  const namespace = `provider-serializer-${Math.random()}`;
  const provider = Plexus.create({
    logLevel: 'silent',
    application: { name: 'ps-provider', handleSignals: false },
    registry: { type: 'memory', namespace } as never,
    protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
  });
  provider.use(memoryRegistryPlugin).use(codecs);
  provider.provide({ interface: 'ps.Echo', serializer: 'countA' }, { echo: (v: unknown) => v });
  await provider.start();
  const consumer = Plexus.create({
    logLevel: 'silent',
    application: { name: 'ps-consumer', handleSignals: false },
    registry: { type: 'memory', namespace } as never,
    references: { echo: { interface: 'ps.Echo', ...reference } },
  });
  consumer.use(memoryRegistryPlugin).use(codecs);
  await consumer.start();
  try {
    used.length = 0;
    expect(await consumer.reference<{ echo(v: string): Promise<string> }>('echo').echo('hi')).toBe('hi');
    return [...used];
  } finally {
    await consumer.stop();
    await provider.stop();
    MemoryRegistry.reset(namespace);
  }
}

describe("the provider's serializer", () => {
  it('is used by a consumer that names none', async () => {
    // the request (consumer) and the response (provider answers in the request's serializer)
    expect(await run({})).toEqual(['countA', 'countA']);
  });

  it("gives way to the consumer's own choice", async () => {
    expect(await run({ serializer: 'countB' })).toEqual(['countB', 'countB']);
  });
});

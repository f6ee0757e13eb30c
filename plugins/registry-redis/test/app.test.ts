import { Plexus } from '@plexus/kernel';
import { PORTS, rawClient, startRedis, type TestRedis } from './support/server';

/*
 * The plugin as applications use it: found by its registry name through the kernel's loader
 * (package @plexus/registry-redis), options from the URL form checked by its schema.
 */
const PROVIDER_PORT = 26385;
let server: TestRedis | undefined;

beforeAll(async () => {
  server = await startRedis(PORTS.app);
});

afterAll(async () => {
  await server?.dispose();
});

it('a provider app and a consumer app find each other through redis://; stop() removes the provider entry', async () => {
  const registry = `redis://127.0.0.1:${PORTS.app}?expirePeriod=3000&requestTimeout=2000`;
  const provider = Plexus.create({
    application: { name: 'redis-provider', handleSignals: false },
    registry,
    protocol: { name: 'plexus', host: '127.0.0.1', port: PROVIDER_PORT },
  });
  provider.provide({ interface: 'demo.RedisGreeter' }, { sayHello: (name: string) => `hello ${name}` });
  const consumer = Plexus.create({
    application: { name: 'redis-consumer', handleSignals: false },
    registry,
    references: { greeter: { interface: 'demo.RedisGreeter', timeout: 3000 } },
  });
  const raw = rawClient(PORTS.app);
  const key = '/plexus/demo.RedisGreeter/providers';
  try {
    await provider.start();
    const [entry] = await raw.hkeys(key);
    expect(entry).toMatch(new RegExp(`^plexus://127\\.0\\.0\\.1:${PROVIDER_PORT}/demo\\.RedisGreeter\\?`));
    await consumer.start();
    const greeter = consumer.reference<{ sayHello(name: string): Promise<string> }>('greeter');
    await expect(greeter.sayHello('ada')).resolves.toBe('hello ada');
    await provider.stop();
    expect(await raw.hlen(key)).toBe(0);
  } finally {
    await consumer.stop();
    await provider.stop();
    raw.disconnect();
  }
});

it('an option out of range fails start() with a coded error naming it', async () => {
  const app = Plexus.create({
    application: { name: 'redis-bad-options', handleSignals: false },
    registry: `redis://127.0.0.1:${PORTS.app}?expirePeriod=10`,
    protocol: { name: 'plexus', host: '127.0.0.1', port: PROVIDER_PORT },
  });
  app.provide({ interface: 'demo.RedisBadOptions' }, { f: () => 1 });
  const err = await app.start().then(
    () => undefined,
    (e: unknown) => e,
  );
  await app.stop();
  expect(err).toMatchObject({ code: 'PLEXUS_ERR_EXTENSION_OPTIONS' });
  expect(String((err as Error).message)).toMatch(/expirePeriod/);
});

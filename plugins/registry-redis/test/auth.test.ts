import { PlexusError, URL } from '@plexus/kernel/spi';
import { MemoryLogger, rejectionOf } from '@plexus/kernel/testing';
import { RedisRegistry } from '../src/redis-registry';
import { PORTS, startRedis, type TestRedis } from './support/server';

/** The `password` option against a real redis-server started with requirepass. */
const PASSWORD = 'plexus-test-secret';
let server: TestRedis | undefined;
const open: RedisRegistry[] = [];

beforeAll(async () => {
  server = await startRedis(PORTS.auth, { password: PASSWORD });
});

afterAll(async () => {
  await server?.dispose();
});

afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

function registry(options: Record<string, unknown>): RedisRegistry {
  if (!server) throw new Error('redis-server did not start (see beforeAll)');
  const r = new RedisRegistry({ address: server.address, requestTimeout: 500, ...options }, new MemoryLogger());
  open.push(r);
  return r;
}

const provider = new URL('plexus', '10.4.0.1', 20880, 'plexus.redis.Auth', { side: 'provider' });
const consumer = new URL('consumer', '10.4.0.200', 0, 'plexus.redis.Auth', { side: 'consumer' });

it('with the right password: register and lookup work', async () => {
  const r = registry({ password: PASSWORD });
  await r.register(provider);
  expect((await r.lookup(consumer)).map(String)).toEqual([provider.toString()]);
});

it('with a wrong password: AUTH, within requestTimeout', async () => {
  const r = registry({ password: 'wrong' });
  const started = Date.now();
  const err = await rejectionOf(r.register(provider));
  expect(PlexusError.is(err, 'PLEXUS_ERR_REDIS_AUTH')).toBe(true);
  expect((err as Error).message).toMatch(/WRONGPASS|invalid/i);
  expect(Date.now() - started).toBeLessThan(2000);
});

it('without a password on a server that needs one: AUTH', async () => {
  const r = registry({});
  const err = await rejectionOf(r.subscribe(consumer, () => undefined));
  expect(PlexusError.is(err, 'PLEXUS_ERR_REDIS_AUTH')).toBe(true);
  expect((err as Error).message).toContain('NOAUTH');
});

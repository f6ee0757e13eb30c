import { registryContract, MemoryLogger } from '@plexus/kernel/testing';
import { RedisRegistry } from '../src/redis-registry';
import { PORTS, startRedis, type TestRedis } from './support/server';

/** The shared registry contract against a real redis-server on loopback. */
let server: TestRedis | undefined;

beforeAll(async () => {
  server = await startRedis(PORTS.contract);
});

afterAll(async () => {
  await server?.dispose();
});

registryContract('redis', () => {
  if (!server) throw new Error('redis-server did not start (see beforeAll)');
  return new RedisRegistry({ address: server.address, requestTimeout: 2000 }, new MemoryLogger());
});

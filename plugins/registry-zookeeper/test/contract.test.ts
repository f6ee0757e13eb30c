import { registryContract, MemoryLogger } from '@plexus/kernel/testing';
import { ZookeeperRegistry } from '../src/zookeeper-registry';
import { PORTS, removeDir, startZooKeeper, tempDir, type ZooKeeperServer } from './server';

let server: ZooKeeperServer | undefined;
let dir: string | undefined;

beforeAll(async () => {
  dir = tempDir('contract');
  server = await startZooKeeper(PORTS.contract, dir);
});

afterAll(async () => {
  await server?.stop();
  removeDir(dir);
});

// The same suite every registry runs, against a real server; each test uses fresh interfaces.
registryContract('zookeeper', () => {
  if (!server) throw new Error('ZooKeeper did not start (see beforeAll)');
  return new ZookeeperRegistry({ address: server.address, sessionTimeout: 4000 }, new MemoryLogger());
});

import { registryContract } from '@plexus/kernel/testing';
import { EtcdRegistry } from '../src/etcd-registry';
import { RecordingLogger, removeDir, startEtcd, type EtcdServer } from './support/etcd';

let server: EtcdServer | undefined;

beforeAll(async () => {
  server = await startEtcd(23790);
}, 30_000);

afterAll(async () => {
  await server?.stop();
  removeDir(server?.dir);
});

registryContract('etcd', () => {
  if (server === undefined) throw new Error('etcd did not start (see beforeAll)');
  return new EtcdRegistry({ address: server.address, ttl: 2000 }, new RecordingLogger());
});

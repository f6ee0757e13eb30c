import nock from 'nock';
import { registryContract } from '@plexus/kernel/testing';
import { NacosRegistry } from '../src/nacos-registry';
import { FakeNacos, fakeBase, lockNetwork, RecordingLogger } from './support/fake-nacos';

/**
 * The registry contract against the in-test Nacos (nock interceptors keeping instances the way a
 * Nacos 2.x server does). Polls every 25 ms so each wait ends within a few rounds.
 */
let fake: FakeNacos;

beforeAll(() => {
  lockNetwork();
  fake = new FakeNacos(fakeBase());
});

afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

registryContract('nacos', () => new NacosRegistry({ address: fake.address, pollInterval: 25, beatInterval: 1000 }, new RecordingLogger()));

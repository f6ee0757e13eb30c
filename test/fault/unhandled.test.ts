import * as path from 'node:path';
import { Plexus } from '@plexus/kernel';
import { startProvider, type ProviderProcess } from '../e2e/helpers';

/**
 * Errors provider code leaves behind (a timer that throws, a rejection nobody awaits) are logged
 * with the service and method they came from, and the provider keeps serving (issue 7, item 6).
 */
describe('a provider survives what its implementations leave behind', () => {
  let provider: ProviderProcess;
  let consumer: Plexus;
  let careless: { lateThrow(): string; lostRejection(): string; ping(): string };

  beforeAll(async () => {
    provider = await startProvider(path.join(__dirname, '..', 'fixtures', 'unhandled', 'provider.yaml'));
    consumer = Plexus.create({ application: { name: 'careless-consumer' }, logLevel: 'silent', registry: 'none' });
    careless = consumer.refer({ interface: 'fault.Careless', url: `plexus://127.0.0.1:${provider.port}`, retries: 0 });
  });

  afterAll(async () => {
    await consumer.stop();
    provider.child.kill('SIGKILL');
    await provider.exited;
  });

  async function logged(text: string): Promise<void> {
    for (let i = 0; i < 200 && !provider.stderr().includes(text); i++) await new Promise((r) => setTimeout(r, 10));
    expect(provider.stderr()).toContain(text);
  }

  it('an exception thrown from a timer is logged with service and method; the provider keeps serving', async () => {
    await expect(careless.lateThrow()).resolves.toBe('returned');
    await logged('an uncaught exception in fault.Careless.lateThrow');
    expect(provider.stderr()).toContain('PLEXUS_ERR_APP_UNHANDLED');
    await expect(careless.ping()).resolves.toBe('pong');
  });

  it('an unhandled rejection is logged with service and method; the provider keeps serving', async () => {
    await expect(careless.lostRejection()).resolves.toBe('returned');
    await logged('an unhandled rejection in fault.Careless.lostRejection');
    await expect(careless.ping()).resolves.toBe('pong');
    expect(provider.child.exitCode).toBeNull();
  });
});

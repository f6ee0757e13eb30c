import { Plexus } from '@plexus/kernel';

/**
 * With no registry line at all, applications on one machine find each other through the embedded
 * `local` registry (installed here as @plexus/registry-local); `registry: none` switches that off.
 */
describe('the embedded default registry', () => {
  const iface = `e2e.Default${process.pid}x${Date.now().toString(36)}`;

  it('a consumer with no registry and no url finds a provider of another application', async () => {
    const provider = Plexus.create({ application: { name: 'default-provider', handleSignals: false }, logLevel: 'silent', protocol: { name: 'plexus', port: 0 } });
    provider.provide({ interface: iface }, { hello: (n: string) => `hello ${n}` });
    await provider.start();
    const consumer = Plexus.create({
      application: { name: 'default-consumer' },
      logLevel: 'silent',
      references: { g: { interface: iface } },
      consumer: { checkTimeout: 10_000 },
    });
    try {
      await consumer.start();
      await expect(consumer.reference<{ hello(n: string): string }>('g').hello('ada')).resolves.toBe('hello ada');
    } finally {
      await consumer.stop();
      await provider.stop();
    }
  });

  it('registry: none switches discovery off: such a reference has no route', async () => {
    const consumer = Plexus.create({ application: { name: 'no-registry' }, logLevel: 'silent', registry: 'none', references: { g: { interface: iface } } });
    await expect(consumer.start()).rejects.toMatchObject({ code: 'PLEXUS_ERR_APP_NO_ROUTE' });
  });
});

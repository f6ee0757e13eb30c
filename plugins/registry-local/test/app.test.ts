import * as fs from 'node:fs';
import * as path from 'node:path';
import { Plexus } from '@plexus/kernel';
import { waitFor } from '@plexus/kernel/testing';
import { removeTempDirs, tempDir } from './support';

/*
 * The plugin as applications use it: found by its registry name through the kernel's loader
 * (package @plexus/registry-local), options from the URL form validated by its schema.
 */
afterAll(() => removeTempDirs());

describe('registry: local:///dir in an application', () => {
  it('a provider app and a consumer app find each other through the folder; stop() leaves no provider', async () => {
    const dir = tempDir();
    const registry = `local://${dir}?pollInterval=100&heartbeat=200`;
    const provider = Plexus.create({
      application: { name: 'local-provider', handleSignals: false },
      registry,
      protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    });
    provider.provide({ interface: 'demo.LocalGreeter' }, { sayHello: (name: string) => `hello ${name}` });
    const consumer = Plexus.create({
      application: { name: 'local-consumer', handleSignals: false },
      registry,
      references: { greeter: { interface: 'demo.LocalGreeter', timeout: 3000 } },
    });
    try {
      await provider.start();
      const providers = path.join(dir, 'plexus', 'demo.LocalGreeter', 'providers');
      expect(fs.readdirSync(providers)).toHaveLength(1);
      await consumer.start();
      const greeter = consumer.reference<{ sayHello(name: string): Promise<string> }>('greeter');
      await expect(greeter.sayHello('ada')).resolves.toBe('hello ada');
    } finally {
      await consumer.stop();
      await provider.stop();
    }
    await waitFor(() => fs.readdirSync(path.join(dir, 'plexus', 'demo.LocalGreeter', 'providers')).length === 0, 3000, 'the provider entry to go');
  });
});

describe('options checked by the plugin\'s schema', () => {
  it('a registry option of the wrong type fails start() with a coded error naming it', async () => {
    const app = Plexus.create({
      application: { name: 'bad-options', handleSignals: false },
      registry: { type: 'local', dir: tempDir(), heartbeat: 'fast' },
      protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    });
    app.provide({ interface: 'demo.BadOptions' }, { f: () => 1 });
    const err = await app.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    await app.stop();
    expect(err).toMatchObject({ code: 'PLEXUS_ERR_EXTENSION_OPTIONS' });
    expect(String((err as Error).message)).toMatch(/heartbeat/);
  });
});

import Ajv from 'ajv';
import plugin, { NacosRegistry } from '../src';
import { RecordingLogger } from './support/fake-nacos';

/** The plugin entry as the kernel's loader uses it: the schema validates (with the loader's Ajv settings) and create() builds the registry. */
describe('@plexus/registry-nacos plugin', () => {
  const [ext] = plugin.extensions;

  it('declares the nacos registry', () => {
    expect(plugin.name).toBe('@plexus/registry-nacos');
    expect(ext).toMatchObject({ point: 'registry', name: 'nacos' });
  });

  it('its options schema fills defaults and coerces strings from env or URL parameters', () => {
    const validate = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true }).compile(ext.optionsSchema!);
    const options: Record<string, unknown> = { type: 'nacos', address: '127.0.0.1:8848', pollInterval: '1500', snapshot: false };
    expect(validate(options)).toBe(true);
    expect(options).toMatchObject({ namespace: '', group: 'DEFAULT_GROUP', beatInterval: 5000, pollInterval: 1500, requestTimeout: 3000 });
    expect(validate({ beatInterval: 5 })).toBe(false);
  });

  it('create() builds a NacosRegistry from ctx.options with ctx.logger', async () => {
    const logger = new RecordingLogger();
    const registry = ext.create({ options: { type: 'nacos', address: '127.0.0.1:8848', group: 'G' }, logger } as never) as NacosRegistry;
    expect(registry).toBeInstanceOf(NacosRegistry);
    expect(registry.options.group).toBe('G');
    expect(registry.logger).toBe(logger);
    await registry.close();
  });
});

import { definePlugin } from '@plexus/kernel/spi';
import { ZOOKEEPER_OPTIONS_SCHEMA } from './options';
import { ZookeeperRegistry } from './zookeeper-registry';

/** `@plexus/registry-zookeeper` — the `zookeeper` registry: `registry: { type: zookeeper, address: 127.0.0.1:2181 }`. */
export { ZookeeperRegistry } from './zookeeper-registry';
export { ZOOKEEPER_DEFAULTS, ZOOKEEPER_OPTIONS_SCHEMA, type ZookeeperRegistryOptions } from './options';
export * from './errors';

export default definePlugin({
  name: '@plexus/registry-zookeeper',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'registry',
      name: 'zookeeper',
      optionsSchema: ZOOKEEPER_OPTIONS_SCHEMA as unknown as Record<string, unknown>,
      create: (ctx) => new ZookeeperRegistry(ctx.options, ctx.logger),
    },
  ],
});

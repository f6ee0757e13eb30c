import { definePlugin } from '@plexus/kernel/spi';
import { REDIS_OPTIONS_SCHEMA } from './options';
import { RedisRegistry } from './redis-registry';

/** `@plexus/registry-redis` — `registry: { type: redis, address: host:port }` (Dubbo's Redis scheme). */
export { RedisRegistry } from './redis-registry';
export { REDIS_DEFAULTS, type RedisRegistryOptions } from './options';
export * from './errors';

export default definePlugin({
  name: '@plexus/registry-redis',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'registry',
      name: 'redis',
      optionsSchema: REDIS_OPTIONS_SCHEMA as unknown as Record<string, unknown>,
      create: (ctx) => new RedisRegistry(ctx.options, ctx.logger),
    },
  ],
});

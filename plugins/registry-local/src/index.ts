import { definePlugin } from '@plexus/kernel/spi';
import { LocalRegistry, type LocalRegistryOptions } from './local-registry';

/** `@plexus/registry-local` — the embedded registry: a folder shared by the processes of one machine. */
export { LocalRegistry, LOCAL_REGISTRY_DEFAULTS, type LocalRegistryOptions } from './local-registry';
export * from './errors';

const ms = { type: 'integer', minimum: 1 };

export default definePlugin({
  name: '@plexus/registry-local',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'registry',
      name: 'local',
      // `type`, `address` and the registry manager's own keys pass through untouched.
      optionsSchema: {
        type: 'object',
        properties: {
          dir: { type: 'string' },
          address: { type: 'string' },
          root: { type: 'string', minLength: 1 },
          heartbeat: ms,
          ttl: ms,
          pollInterval: ms,
          watch: { type: 'boolean' },
          timeout: ms,
          maxEntrySize: { type: 'integer', minimum: 256 },
          hostname: { type: 'string', minLength: 1 },
        },
      },
      create: (ctx) => new LocalRegistry({ ...(ctx.options as LocalRegistryOptions), logger: ctx.logger }),
    },
  ],
});

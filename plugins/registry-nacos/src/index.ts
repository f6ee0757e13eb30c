/** `@plexus/registry-nacos` — the `nacos` registry (Nacos 2.x open API v1, over Node's own fetch). */
import { definePlugin } from '@plexus/kernel/spi';
import { NacosRegistry } from './nacos-registry';
import { nacosOptionsSchema } from './nacos-options';

export { NacosRegistry } from './nacos-registry';
export { NacosErrors } from './nacos-errors';
export {
  DEFAULT_NACOS_ADDRESS,
  DEFAULT_NACOS_BEAT_INTERVAL,
  DEFAULT_NACOS_GROUP,
  DEFAULT_NACOS_MAX_RESPONSE_BYTES,
  DEFAULT_NACOS_POLL_INTERVAL,
  DEFAULT_NACOS_REQUEST_TIMEOUT,
  nacosOptionsSchema,
  type NacosRegistryOptions,
} from './nacos-options';
export { URL_METADATA_KEY, serviceNameOf } from './nacos-naming';

export default definePlugin({
  name: '@plexus/registry-nacos',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'registry',
      name: 'nacos',
      optionsSchema: nacosOptionsSchema as unknown as Record<string, unknown>,
      create: (ctx) => new NacosRegistry(ctx.options, ctx.logger),
    },
  ],
});

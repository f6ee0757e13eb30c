/** `@plexus/registry-etcd` — the `etcd` registry (etcd v3, through the etcd3 driver). */
import { definePlugin } from '@plexus/kernel/spi';
import { EtcdRegistry } from './etcd-registry';
import { etcdOptionsSchema } from './etcd-options';

export { EtcdRegistry } from './etcd-registry';
export { EtcdErrors } from './etcd-errors';
export {
  DEFAULT_ETCD_ADDRESS,
  DEFAULT_ETCD_MAX_ENTRIES,
  DEFAULT_ETCD_MAX_KEY_BYTES,
  DEFAULT_ETCD_REQUEST_TIMEOUT,
  DEFAULT_ETCD_TTL,
  MIN_ETCD_TTL,
  etcdOptionsSchema,
  type EtcdRegistryOptions,
} from './etcd-options';

export default definePlugin({
  name: '@plexus/registry-etcd',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'registry',
      name: 'etcd',
      optionsSchema: etcdOptionsSchema as unknown as Record<string, unknown>,
      create: (ctx) => new EtcdRegistry(ctx.options, ctx.logger),
    },
  ],
});

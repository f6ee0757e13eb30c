/**
 * The extension points the kernel knows, with their default names. A plugin may only provide
 * extensions of these points. The kernel never names an implementation beyond these defaults;
 * the loader finds them in plugin packages.
 */
export const EXTENSION_POINTS = {
  protocol: { default: 'plexus', singleton: true },
  transport: { default: 'tcp', singleton: true },
  serializer: { default: 'msgpack', singleton: true },
  compressor: { default: 'identity', singleton: true },
  registry: { default: 'local', singleton: false },
  loadbalance: { default: 'random', singleton: false },
  cluster: { default: 'failover', singleton: true },
  router: { default: undefined, singleton: false },
  filter: { default: undefined, singleton: false },
  executor: { default: 'direct', singleton: false },
} as const satisfies Record<string, { default: string | undefined; singleton: boolean }>;

export type ExtensionPoint = keyof typeof EXTENSION_POINTS;

export function isExtensionPoint(value: string): value is ExtensionPoint {
  return Object.prototype.hasOwnProperty.call(EXTENSION_POINTS, value);
}

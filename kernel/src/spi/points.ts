import { DEFAULT_CLUSTER } from './cluster';
import { DEFAULT_COMPRESSOR } from './compressor';
import { DEFAULT_EXECUTOR } from './executor';
import { DEFAULT_LOADBALANCE } from './loadbalance';
import { DEFAULT_PROTOCOL } from './protocol';
import { DEFAULT_QOS } from './qos';
import { DEFAULT_REGISTRY } from './registry';
import { DEFAULT_SERIALIZER } from './serializer';
import { DEFAULT_TRANSPORT } from './transport';

/**
 * The extension points the kernel knows (the defaults are each point's file's constant: one
 * source per fact), with their default names. A plugin may only provide
 * extensions of these points. The kernel never names an implementation beyond these defaults;
 * the loader finds them in plugin packages.
 */
export const EXTENSION_POINTS = {
  protocol: { default: DEFAULT_PROTOCOL, singleton: true },
  transport: { default: DEFAULT_TRANSPORT, singleton: true },
  serializer: { default: DEFAULT_SERIALIZER, singleton: true },
  compressor: { default: DEFAULT_COMPRESSOR, singleton: true },
  registry: { default: DEFAULT_REGISTRY, singleton: false },
  loadbalance: { default: DEFAULT_LOADBALANCE, singleton: false },
  cluster: { default: DEFAULT_CLUSTER, singleton: true },
  router: { default: undefined, singleton: false },
  filter: { default: undefined, singleton: false },
  executor: { default: DEFAULT_EXECUTOR, singleton: false },
  qos: { default: DEFAULT_QOS, singleton: true },
} as const satisfies Record<string, { default: string | undefined; singleton: boolean }>;

export type ExtensionPoint = keyof typeof EXTENSION_POINTS;

export function isExtensionPoint(value: string): value is ExtensionPoint {
  return Object.prototype.hasOwnProperty.call(EXTENSION_POINTS, value);
}

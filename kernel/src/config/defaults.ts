import { DEFAULT_WARMUP, DEFAULT_WEIGHT } from '../cluster/weight';

/**
 * The defaults a config gets where no layer sets a key, recorded as source `default`. Dubbo's values
 * unless a reason says otherwise. Registry: none — without one, references need `url:` (or call
 * services of the same process).
 */
export const CONFIG_DEFAULTS = {
  /** When no config file names the application. */
  applicationName: 'plexus-app',
  /** The protocol served when none is configured: loopback only, so nothing is exposed by accident. */
  protocol: { name: 'plexus', host: '127.0.0.1', port: 20880 },
  /** Options every `plexus` protocol entry gets (the serializer and compressor points' defaults). */
  plexusProtocol: { port: 20880, serializer: 'msgpack', compressor: 'identity' },
  /** Host of any protocol that listens on TCP (not `injvm`, not a Unix socket `path`). */
  host: '127.0.0.1',
  provider: {
    /**
     * The provider's own budget per call. Longer than the consumer's 1000 so a consumer normally
     * sees its own timeout first and decides about retrying.
     */
    timeout: 3000,
    executor: 'direct',
    weight: DEFAULT_WEIGHT,
    warmup: DEFAULT_WARMUP,
    /** How long stop() lets in-flight calls finish (DESIGN §8). */
    shutdownTimeout: 10_000,
  },
  consumer: {
    timeout: 1000,
    retries: 2,
    cluster: 'failover',
    loadbalance: 'random',
    /** Fail start() when a reference has no provider, rather than at the first call. */
    check: true,
  },
} as const;

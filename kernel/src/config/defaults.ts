import { DEFAULT_CLUSTER } from '../spi/cluster';
import { DEFAULT_COMPRESSOR } from '../spi/compressor';
import { DEFAULT_EXECUTOR } from '../spi/executor';
import { DEFAULT_LOADBALANCE, DEFAULT_WARMUP, DEFAULT_WEIGHT } from '../spi/loadbalance';
import { DEFAULT_PROTOCOL } from '../spi/protocol';
import { DEFAULT_SERIALIZER } from '../spi/serializer';

/**
 * The defaults a config gets where no layer sets a key, recorded as source `default`. Dubbo's values
 * unless a reason says otherwise. Registry: none — without one, references need `url:` (or call
 * services of the same process).
 */
export const CONFIG_DEFAULTS = {
  /** When no config file names the application. */
  applicationName: 'plexus-app',
  /** The protocol served when none is configured: loopback only, so nothing is exposed by accident. */
  protocol: { name: DEFAULT_PROTOCOL, host: '127.0.0.1', port: 20880 },
  /** Options every `plexus` protocol entry gets (the serializer and compressor points' defaults). */
  plexusProtocol: { port: 20880, serializer: DEFAULT_SERIALIZER, compressor: DEFAULT_COMPRESSOR },
  /** Host of any protocol that listens on TCP (not `injvm`, not a Unix socket `path`). */
  host: '127.0.0.1',
  provider: {
    /**
     * The provider's own budget per call. Longer than the consumer's 1000 so a consumer normally
     * sees its own timeout first and decides about retrying.
     */
    timeout: 3000,
    executor: DEFAULT_EXECUTOR,
    weight: DEFAULT_WEIGHT,
    warmup: DEFAULT_WARMUP,
    /** How long stop() lets in-flight calls finish (DESIGN §8). */
    shutdownTimeout: 10_000,
  },
  /** The admin server, when `qos:` is configured: loopback only, since it can take services offline. */
  qos: { host: '127.0.0.1' },
  consumer: {
    timeout: 1000,
    retries: 2,
    cluster: DEFAULT_CLUSTER,
    loadbalance: DEFAULT_LOADBALANCE,
    /** Fail start() when a reference has no provider, rather than at the first call. */
    check: true,
  },
} as const;

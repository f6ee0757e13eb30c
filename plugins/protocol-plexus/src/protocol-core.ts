import type { Logger, Transport } from '@plexus/kernel/spi';
import type { CodecTable } from './codec-table';
import type { PlexusProtocolOptions } from './options';

/**
 * What the consumer and provider halves need from the protocol instance that owns them.
 * Internal to this package.
 */
export interface ProtocolCore {
  readonly options: PlexusProtocolOptions;
  readonly logger: Logger;
  readonly codecs: CodecTable;
  /** The transport, resolved on first use and cached. */
  transport(): Transport;
  /** True once `drain` began: new requests are refused with `SHUTTING_DOWN`. */
  readonly draining: boolean;
  /** A provider request started running. */
  requestStarted(): void;
  /** A provider request finished (its response, if any, is written). */
  requestFinished(): void;
}

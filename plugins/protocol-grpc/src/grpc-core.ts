import type { Logger } from '@plexus/kernel/spi';
import type { GrpcProtocolOptions } from './options';

/** What the server and client parts need of the protocol instance. @internal */
export interface GrpcCore {
  readonly options: GrpcProtocolOptions;
  readonly logger: Logger;
  readonly draining: boolean;
  requestStarted(): void;
  requestFinished(): void;
}

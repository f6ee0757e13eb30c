import type { Logger, Serializer } from '@plexus/kernel/spi';
import type { HttpProtocolOptions } from './options';

/** What the server endpoints and invokers need of their protocol instance. @internal */
export interface HttpCore {
  readonly options: HttpProtocolOptions;
  readonly logger: Logger;
  /** The `json` serializer, resolved through the extension context (its decode limits apply). */
  json(): Serializer;
  readonly draining: boolean;
  requestStarted(): void;
  requestFinished(): void;
}

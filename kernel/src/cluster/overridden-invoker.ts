import type { Invocation } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Result } from '../spi/result';
import type { URL } from '../url/url';

/**
 * A provider's invoker seen through an override: the same connection and protocol invoker, a
 * different `url` (the overridden `weight`), so load balancers read the new weight and nothing is
 * re-created. The directory owns `inner` and destroys it; this wrapper holds nothing of its own.
 */
export class OverriddenInvoker implements Invoker {
  constructor(
    readonly inner: Invoker,
    readonly url: URL,
  ) {}

  invoke(invocation: Invocation): Promise<Result> {
    return this.inner.invoke(invocation);
  }

  isAvailable(): boolean {
    return this.inner.isAvailable ? this.inner.isAvailable() : true;
  }

  streams(method: string): boolean | undefined {
    return this.inner.streams?.(method);
  }
}

import type { Directory } from '../spi/directory';
import type { Invocation } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Router } from '../spi/router';
import type { URL } from '../url/url';

/** Applies routers in priority order; with none, returns the list itself (no allocation). */
export function route(routers: readonly Router[], invokers: readonly Invoker[], invocation: Invocation): readonly Invoker[] {
  let out = invokers;
  for (let i = 0; i < routers.length; i++) out = routers[i].route(out, invocation);
  return out;
}

/** What every directory shares: the current list, routing, availability. */
export abstract class AbstractDirectory implements Directory {
  protected invokers: readonly Invoker[] = [];

  constructor(
    readonly url: URL,
    protected readonly routers: readonly Router[],
  ) {}

  list(invocation: Invocation): readonly Invoker[] {
    return this.routers.length ? route(this.routers, this.invokers, invocation) : this.invokers;
  }

  all(): readonly Invoker[] {
    return this.invokers;
  }

  isAvailable(): boolean {
    return this.invokers.some((i) => (i.isAvailable ? i.isAvailable() : true));
  }

  abstract destroy(): Promise<void>;
}

/** A fixed list of providers: direct `url:` references and in-process (injvm) ones. */
export class StaticDirectory extends AbstractDirectory {
  constructor(url: URL, invokers: readonly Invoker[], routers: readonly Router[] = []) {
    super(url, routers);
    this.invokers = invokers;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.invokers.map((i) => i.destroy?.()));
  }
}

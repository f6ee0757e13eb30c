import type { Directory } from '../spi/directory';
import type { Invocation } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Router } from '../spi/router';
import type { URL } from '../url/url';
import type { NodeAvailability } from './node-availability';

/** Applies routers in priority order; with none, returns the list itself (no allocation). */
export function route(routers: readonly Router[], invokers: readonly Invoker[], invocation: Invocation): readonly Invoker[] {
  let out = invokers;
  for (let i = 0; i < routers.length; i++) out = routers[i].route(out, invocation);
  return out;
}

/**
 * What every directory shares: the current list, the nodes in rotation (suspended ones left out,
 * recomputed on change), routers told of every list change (`notify`) so they precompute, and
 * routing per call over the precomputed list.
 */
export abstract class AbstractDirectory implements Directory {
  private all_: readonly Invoker[] = [];
  private inRotation: readonly Invoker[] = [];
  private readonly routers: readonly Router[];
  private readonly stopWatching?: () => void;

  constructor(
    readonly url: URL,
    routers: readonly Router[],
    private readonly availability?: NodeAvailability,
  ) {
    this.routers = [...routers].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0));
    this.stopWatching = availability?.onChange(() => this.recompute());
  }

  /** Replaces the provider list (registry notification, or once for a static list). */
  protected setInvokers(invokers: readonly Invoker[]): void {
    this.all_ = invokers;
    this.recompute();
  }

  list(invocation: Invocation): readonly Invoker[] {
    return this.routers.length ? route(this.routers, this.inRotation, invocation) : this.inRotation;
  }

  all(): readonly Invoker[] {
    return this.all_;
  }

  isAvailable(): boolean {
    return this.inRotation.some((i) => (i.isAvailable ? i.isAvailable() : true));
  }

  async destroy(): Promise<void> {
    this.stopWatching?.();
    await this.release();
  }

  protected abstract release(): Promise<void>;

  private recompute(): void {
    const a = this.availability;
    this.inRotation = a === undefined || a.empty ? this.all_ : this.all_.filter((i) => a.suspensionOf(i.url.address) === undefined);
    for (const r of this.routers) r.notify?.(this.inRotation);
  }
}

/** A fixed list of providers: direct `url:` references and in-process (injvm) ones. */
export class StaticDirectory extends AbstractDirectory {
  constructor(url: URL, invokers: readonly Invoker[], routers: readonly Router[] = [], availability?: NodeAvailability) {
    super(url, routers, availability);
    this.setInvokers(invokers);
  }

  protected async release(): Promise<void> {
    await Promise.all(this.all().map((i) => i.destroy?.()));
  }
}

import type { Invoker } from '../spi/invoker';
import type { Logger } from '../spi/logger';
import type { Registry } from '../spi/registry';
import type { Router } from '../spi/router';
import type { URL } from '../url/url';
import { AbstractDirectory } from './static-directory';

/**
 * The providers of one reference as a registry reports them. Invokers are created per provider URL
 * through `refer` and kept while the URL stays listed, so a notification that changes nothing
 * creates nothing. Calls made before the first notification wait for it (`ready`).
 */
export class RegistryDirectory extends AbstractDirectory {
  private byUrl = new Map<string, Invoker>();
  private readyResolve?: () => void;
  readonly ready: Promise<void>;
  private notified = false;
  private readonly listener = (urls: URL[]) => this.notify(urls);

  constructor(
    url: URL,
    private readonly registry: Registry,
    private readonly refer: (providerUrl: URL) => Invoker | undefined,
    private readonly logger: Logger,
    routers: readonly Router[] = [],
  ) {
    super(url, routers);
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
  }

  async subscribe(): Promise<void> {
    await this.registry.subscribe(this.url, this.listener);
  }

  get hasNotified(): boolean {
    return this.notified;
  }

  notify(urls: URL[]): void {
    const next = new Map<string, Invoker>();
    for (const u of urls) {
      if (!this.matches(u)) continue;
      const key = u.toString();
      const existing = this.byUrl.get(key) ?? next.get(key);
      if (existing) {
        next.set(key, existing);
        continue;
      }
      try {
        const inv = this.refer(u);
        if (inv) next.set(key, inv);
      } catch (err) {
        this.logger.warn(`cannot refer provider ${key}: ${(err as Error).message}`);
      }
    }
    for (const [key, inv] of this.byUrl) if (!next.has(key)) void inv.destroy?.();
    this.byUrl = next;
    this.invokers = [...next.values()];
    this.notified = true;
    this.readyResolve?.();
  }

  async destroy(): Promise<void> {
    try {
      await this.registry.unsubscribe(this.url, this.listener);
    } catch (err) {
      this.logger.warn(`unsubscribe failed: ${(err as Error).message}`);
    }
    await Promise.all(this.invokers.map((i) => i.destroy?.()));
    this.invokers = [];
    this.byUrl.clear();
  }

  private matches(provider: URL): boolean {
    if (provider.path !== this.url.path) return false;
    const want = (k: string) => this.url.getParam(k, '');
    const have = (k: string) => provider.getParam(k, '');
    if (want('version') && want('version') !== '*' && want('version') !== have('version')) return false;
    if (want('group') !== '*' && want('group') !== have('group')) return false;
    return true;
  }
}

import type { RegistryManager } from '../registry/registry-manager';
import type { Invoker } from '../spi/invoker';
import type { Logger } from '../spi/logger';
import type { Router } from '../spi/router';
import type { URL } from '../url/url';
import type { NodeAvailability } from './node-availability';
import { AbstractDirectory } from './static-directory';

/**
 * The providers of one reference as the registries report them (through the registry manager:
 * cache, snapshot and retries are its business). Invokers are created per provider URL through
 * `refer` and kept while the URL stays listed, so a notification that changes nothing creates
 * nothing. Calls made before the first notification wait for it (`ready`).
 */
export class RegistryDirectory extends AbstractDirectory {
  private byUrl = new Map<string, Invoker>();
  private readyResolve?: () => void;
  readonly ready: Promise<void>;
  private readonly listener = (urls: URL[]) => this.notify(urls);

  constructor(
    url: URL,
    private readonly registries: RegistryManager,
    private readonly refer: (providerUrl: URL) => Invoker | undefined,
    private readonly logger: Logger,
    routers: readonly Router[] = [],
    availability?: NodeAvailability,
  ) {
    super(url, routers, availability);
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
  }

  async subscribe(): Promise<void> {
    await this.registries.subscribe(this.url, this.listener);
  }

  notify(urls: URL[]): void {
    const next = new Map<string, Invoker>();
    for (const u of urls) {
      if (u.params.side === 'consumer' || !this.matches(u)) continue;
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
    this.setInvokers([...next.values()]);
    this.readyResolve?.();
  }

  protected async release(): Promise<void> {
    try {
      await this.registries.unsubscribe(this.url, this.listener);
    } catch (err) {
      this.logger.warn(`unsubscribe failed: ${(err as Error).message}`);
    }
    await Promise.all(this.all().map((i) => i.destroy?.()));
    this.byUrl.clear();
    this.setInvokers([]);
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

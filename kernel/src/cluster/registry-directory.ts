import { categoryOf } from '../registry/layout';
import { RECOVERY_GRACE_MS, type RegistryManager } from '../registry/registry-manager';
import type { Invoker } from '../spi/invoker';
import type { Logger } from '../spi/logger';
import type { Router } from '../spi/router';
import type { URL } from '../url/url';
import type { NodeAvailability } from './node-availability';
import { isRuleCategory } from './rule-entries';
import { ServiceKeyInvoker } from './service-key-invoker';
import { AbstractDirectory, type RuleContext } from './static-directory';

/** What a registry directory watches: the providers and the rules written for them. */
export const DIRECTORY_CATEGORIES = 'providers,routers,configurators';

/**
 * The providers of one reference as the registries report them (through the registry manager:
 * cache, snapshot and retries are its business), with the dynamic rules written beside them
 * (`routers` and `configurators` entries of the same interface). Invokers are created per provider
 * URL through `refer` and kept while the URL stays listed, so a notification that changes nothing
 * creates nothing, and an override never re-creates one. Calls made before the first notification
 * wait for it (`ready`).
 *
 * `group` selects providers: one group, `*` for every group, or a comma list whose providers are
 * merged (the YAML list form arrives joined with commas); `version: '*'` takes every version.
 * Providers of a group or version other than the reference's receive calls under their own.
 */
export class RegistryDirectory extends AbstractDirectory {
  private byUrl = new Map<string, Invoker>();
  private readyResolve?: () => void;
  readonly ready: Promise<void>;
  /** The URL subscribed: the consumer URL watching providers, routers and configurators. */
  readonly subscription: URL;
  private readonly listener = (urls: URL[]) => this.notify(urls);
  /** The groups this reference takes, or undefined for every group. */
  private readonly groups: ReadonlySet<string> | undefined;
  private readonly anyVersion: boolean;
  /** While an empty list is being ignored: the timer that believes it at the end of the grace period. */
  private protecting: NodeJS.Timeout | undefined = undefined;
  private released = false;

  constructor(
    url: URL,
    private readonly registries: RegistryManager,
    private readonly refer: (providerUrl: URL) => Invoker | undefined,
    private readonly logger: Logger,
    routers: readonly Router[] = [],
    availability?: NodeAvailability,
    rules?: RuleContext,
    /** Told of each provider joining (`provider:up`) or leaving (`provider:down`) this reference. */
    private readonly events?: { emit(type: string, fields: Record<string, unknown>): void },
  ) {
    super(url, routers, availability, rules ?? { logger });
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
    this.subscription = url.withParams({ category: DIRECTORY_CATEGORIES });
    const groups = url
      .getParam('group', '')
      .split(',')
      .map((g) => g.trim());
    this.groups = groups.includes('*') ? undefined : new Set(groups);
    this.anyVersion = url.getParam('version', '') === '*';
  }

  async subscribe(): Promise<void> {
    await this.registries.subscribe(this.subscription, this.listener);
  }

  notify(urls: URL[]): void {
    const providers: URL[] = [];
    const rules: URL[] = [];
    for (const u of urls) {
      const category = categoryOf(u);
      if (isRuleCategory(category) || u.protocol === 'route' || u.protocol === 'override') rules.push(u);
      else if (category === 'providers' && u.params.side !== 'consumer') providers.push(u);
    }
    // Rules first: the first list a balancer sees already carries the overrides.
    this.applyRules(rules);
    // Empty protection: right after a registry came back with a new session (a ZooKeeper back
    // without its data), a list with no provider at all only means the providers have not written
    // their entries again yet. The known providers stay until a list names providers or the grace
    // period ends; outside it an empty list is believed (the last provider left).
    if (providers.length === 0 && this.byUrl.size > 0 && this.registries.recovering()) {
      if (this.protecting === undefined) {
        this.logger.warn(
          `the registry, back with a new session, lists no provider of ${this.url.serviceKey}; keeping the ${this.byUrl.size} known ` +
            'while the providers register again (empty protection)',
          { code: 'PLEXUS_ERR_REGISTRY_EMPTY_LIST', service: this.url.serviceKey },
        );
        // Past the grace period the empty list is believed: the registry sends no new list while nothing changes.
        const timer = setTimeout(() => {
          this.protecting = undefined;
          if (!this.released) this.notify(urls);
        }, RECOVERY_GRACE_MS);
        timer.unref();
        this.protecting = timer;
      }
      this.readyResolve?.();
      return;
    }
    if (this.protecting !== undefined) {
      clearTimeout(this.protecting);
      this.protecting = undefined;
    }
    const next = new Map<string, Invoker>();
    const mixed = this.groups === undefined || this.groups.size > 1 || this.anyVersion;
    for (const u of providers) {
      if (!this.matches(u)) continue;
      const key = u.toString();
      const existing = this.byUrl.get(key) ?? next.get(key);
      if (existing) {
        next.set(key, existing);
        continue;
      }
      try {
        const inv = this.refer(u);
        if (inv) {
          next.set(key, mixed && u.serviceKey !== this.url.serviceKey ? new ServiceKeyInvoker(inv, u) : inv);
          this.events?.emit('provider:up', { service: this.url.serviceKey, address: u.address, url: key });
        }
      } catch (err) {
        this.logger.warn(`cannot refer provider ${key}: ${(err as Error).message}`);
      }
    }
    for (const [key, inv] of this.byUrl) {
      if (next.has(key)) continue;
      void inv.destroy?.();
      this.events?.emit('provider:down', { service: this.url.serviceKey, address: inv.url.address, url: key });
    }
    this.byUrl = next;
    this.setInvokers([...next.values()]);
    this.readyResolve?.();
  }

  protected async release(): Promise<void> {
    this.released = true;
    if (this.protecting !== undefined) clearTimeout(this.protecting);
    this.protecting = undefined;
    try {
      await this.registries.unsubscribe(this.subscription, this.listener);
    } catch (err) {
      this.logger.warn(`unsubscribe failed: ${(err as Error).message}`);
    }
    await Promise.all(this.rawInvokers().map((i) => i.destroy?.()));
    for (const [key, inv] of this.byUrl) this.events?.emit('provider:down', { service: this.url.serviceKey, address: inv.url.address, url: key });
    this.byUrl.clear();
    this.setInvokers([]);
  }

  private matches(provider: URL): boolean {
    if (provider.path !== this.url.path) return false;
    const version = this.url.getParam('version', '');
    if (version && !this.anyVersion && version !== provider.getParam('version', '')) return false;
    if (this.groups !== undefined && !this.groups.has(provider.getParam('group', ''))) return false;
    return true;
  }
}

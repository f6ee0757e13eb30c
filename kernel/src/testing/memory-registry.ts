import { definePlugin } from '../extension/plugin';
import type { Logger } from '../spi/logger';
import type { NotifyListener, Registry, RegistryState } from '../spi/registry';
import type { URL } from '../url/url';
import { defineError } from '../errors/plexus-error';

const REGISTRY_CLOSED = defineError(
  'PLEXUS_ERR_MEMORY_REGISTRY_CLOSED',
  (namespace: string, what: string) => `MemoryRegistry "${namespace}": cannot ${what} after close()`,
  'Create a new MemoryRegistry (or application) instead of reusing a closed one.',
);

/** Options of a {@link MemoryRegistry}. */
export interface MemoryRegistryOptions {
  /**
   * Instances with the same namespace share providers and subscribers, as processes sharing one
   * registry server would. Default `default`; give each test its own to keep tests apart.
   */
  namespace?: string;
}

/** One registered URL and the instances that registered it. */
interface Entry {
  url: URL;
  owners: Set<MemoryRegistry>;
}

/** One `subscribe` call: delivered at most once per microtask, never after it was cancelled. */
interface Subscription {
  readonly owner: MemoryRegistry;
  readonly path: string;
  readonly key: string;
  readonly listener: NotifyListener;
  active: boolean;
  scheduled: boolean;
}

/** The shared state of one namespace: providers and subscriptions by interface. */
interface Space {
  readonly providers: Map<string, Map<string, Entry>>;
  readonly subscriptions: Map<string, Set<Subscription>>;
  /** While true, every operation fails as if the server were unreachable. */
  down: boolean;
  readonly instances: Set<MemoryRegistry>;
}

const REGISTRY_DOWN = defineError(
  'PLEXUS_ERR_MEMORY_REGISTRY_DOWN',
  (namespace: string, what: string) => `MemoryRegistry "${namespace}" is down (simulated outage): cannot ${what}`,
  'Call MemoryRegistry.outage(namespace, false) to bring it back; the registry manager retries by itself.',
);

const spaces = new Map<string, Space>();

function space(name: string): Space {
  let s = spaces.get(name);
  if (s === undefined) spaces.set(name, (s = { providers: new Map(), subscriptions: new Map(), down: false, instances: new Set() }));
  return s;
}

/**
 * A {@link Registry} held in this process, for tests: every instance created with the same
 * `namespace` sees the same providers, so two Plexus apps in one jest worker discover each other.
 * A subscriber of a consumer URL gets the full list of provider URLs with the same path
 * (interface), whatever their version or group — the kernel's directory filters on those — once
 * right after `subscribe` and after every change, always in a later microtask, and changes made
 * in the same turn are delivered as one list. A URL registered by two instances stays listed until
 * `unregister` (by anyone) or until both closed.
 *
 * Scope: as many instances as a test likes; state lives in a module-level map, so call
 * {@link MemoryRegistry.reset} or use a fresh namespace per test.
 */
export class MemoryRegistry implements Registry {
  readonly namespace: string;
  private readonly space: Space;
  private readonly registered = new Map<string, URL>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly stateListeners: Array<(state: RegistryState) => void> = [];
  private closed = false;

  constructor(
    options: Readonly<Record<string, unknown>> | MemoryRegistryOptions = {},
    private readonly logger?: Logger,
  ) {
    const ns = (options as MemoryRegistryOptions).namespace;
    this.namespace = typeof ns === 'string' && ns !== '' ? ns : 'default';
    this.space = space(this.namespace);
    this.space.instances.add(this);
  }

  /**
   * Simulates a registry server going down (`true`) and coming back (`false`) having lost its
   * state, as a restart without persistence does: while down every operation rejects; on coming
   * back the namespace's entries are gone, subscribers are told, and every instance reports
   * `'reconnected'`, so the registry manager registers (and subscribes) again.
   */
  static outage(namespace: string, down: boolean): void {
    const s = space(namespace);
    if (s.down === down) return;
    s.down = down;
    if (down) return;
    const paths = [...s.providers.keys()];
    s.providers.clear();
    for (const instance of s.instances) {
      instance.registered.clear();
      for (const p of paths) instance.changed(p);
    }
    for (const instance of [...s.instances]) for (const l of instance.stateListeners) l('reconnected');
  }

  onStateChange(listener: (state: RegistryState) => void): void {
    this.stateListeners.push(listener);
  }

  /** Forgets every provider and subscriber of `namespace`, or of every namespace. */
  static reset(namespace?: string): void {
    if (namespace === undefined) spaces.clear();
    else spaces.delete(namespace);
  }

  /** The provider URLs of interface `path` in `namespace` now, for assertions. */
  static providers(namespace: string, path: string): URL[] {
    return [...(spaces.get(namespace)?.providers.get(path)?.values() ?? [])].map((e) => e.url);
  }

  async register(url: URL): Promise<void> {
    this.ensureOpen('register');
    this.ensureUp('register');
    const key = url.toString();
    let byUrl = this.space.providers.get(url.path);
    if (byUrl === undefined) this.space.providers.set(url.path, (byUrl = new Map()));
    this.registered.set(key, url);
    const entry = byUrl.get(key);
    if (entry !== undefined) {
      entry.owners.add(this);
      return;
    }
    byUrl.set(key, { url, owners: new Set([this]) });
    this.changed(url.path);
  }

  async unregister(url: URL): Promise<void> {
    this.ensureUp('unregister');
    const key = url.toString();
    this.registered.delete(key);
    this.remove(url.path, key, undefined);
  }

  async subscribe(url: URL, listener: NotifyListener): Promise<void> {
    this.ensureOpen('subscribe');
    this.ensureUp('subscribe');
    const key = url.toString();
    for (const s of this.subscriptions) {
      // Subscribing again (the manager does after 'reconnected') re-delivers the current list.
      if (s.key === key && s.listener === listener) {
        this.schedule(s);
        return;
      }
    }
    const sub: Subscription = { owner: this, path: url.path, key, listener, active: true, scheduled: false };
    this.subscriptions.add(sub);
    let subs = this.space.subscriptions.get(url.path);
    if (subs === undefined) this.space.subscriptions.set(url.path, (subs = new Set()));
    subs.add(sub);
    this.schedule(sub);
  }

  async unsubscribe(url: URL, listener: NotifyListener): Promise<void> {
    const key = url.toString();
    for (const s of this.subscriptions) if (s.key === key && s.listener === listener) this.cancel(s);
  }

  /** Unregisters what this instance registered (unless another instance registered it too) and drops its listeners. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.space.instances.delete(this);
    for (const s of [...this.subscriptions]) this.cancel(s);
    for (const [key, url] of this.registered) this.remove(url.path, key, this);
    this.registered.clear();
  }

  /** Removes `key` for everyone, or only `owner`'s share of it. */
  private remove(path: string, key: string, owner: MemoryRegistry | undefined): void {
    const byUrl = this.space.providers.get(path);
    const entry = byUrl?.get(key);
    if (byUrl === undefined || entry === undefined) return;
    if (owner !== undefined) {
      entry.owners.delete(owner);
      if (entry.owners.size > 0) return;
    }
    byUrl.delete(key);
    if (byUrl.size === 0) this.space.providers.delete(path);
    this.changed(path);
  }

  private cancel(sub: Subscription): void {
    sub.active = false;
    this.subscriptions.delete(sub);
    const subs = this.space.subscriptions.get(sub.path);
    subs?.delete(sub);
    if (subs?.size === 0) this.space.subscriptions.delete(sub.path);
  }

  changed(path: string): void {
    const subs = this.space.subscriptions.get(path);
    if (subs !== undefined) for (const sub of subs) this.schedule(sub);
  }

  private schedule(sub: Subscription): void {
    if (sub.scheduled) return;
    sub.scheduled = true;
    // Later, never inside register/subscribe: a listener may call back into the registry.
    queueMicrotask(() => {
      sub.scheduled = false;
      if (!sub.active) return;
      const urls = MemoryRegistry.providers(this.namespace, sub.path);
      try {
        sub.listener(urls);
      } catch (err) {
        // One listener's bug must not silence the others; without a logger the test sees it as uncaught.
        if (sub.owner.logger === undefined) throw err;
        sub.owner.logger.error(`memory registry listener failed: ${(err as Error)?.message ?? String(err)}`, { path: sub.path });
      }
    });
  }

  private ensureUp(what: string): void {
    if (this.space.down) throw REGISTRY_DOWN(this.namespace, what);
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw REGISTRY_CLOSED(this.namespace, what);
  }
}

/**
 * A plugin providing the memory registry as `registry: { type: 'memory', namespace: 'x' }`:
 * `Plexus.create(config).use(memoryRegistryPlugin)`.
 */
export const memoryRegistryPlugin = definePlugin({
  name: '@plexus/kernel/testing',
  extensions: [{ point: 'registry', name: 'memory', create: (ctx) => new MemoryRegistry(ctx.options, ctx.logger) }],
});

import type { URL } from '../url/url';

export const REGISTRY = Symbol.for('plexus.registry');
export const DEFAULT_REGISTRY = 'local';
/** `registry: none`: no discovery at all, not even the embedded default. */
export const NO_REGISTRY = 'none';

export type NotifyListener = (urls: URL[]) => void;

/**
 * What a backend reports about its connection. `reconnected` means the backend's session was
 * lost and is back (ZooKeeper session expiry, an etcd lease that was lost, a Redis reconnect):
 * entries it held may be gone, so the kernel's registry manager registers and subscribes again.
 */
export type RegistryState = 'connected' | 'disconnected' | 'reconnected';

/**
 * Service discovery: the I/O with one backend (ZooKeeper, etcd, Redis, Nacos, a local folder).
 * Scope: one instance per application and registry entry; called from the event loop only.
 *
 * Entries follow Dubbo's layout, `/{root}/{interface}/{category}/{url-encoded URL}` (see
 * `registryLayout` in `@plexus/kernel/spi`): `register(url)` writes `url` under its category
 * (`categoryOf(url)`: the `category` param, else `consumers` for `side=consumer`, else
 * `providers`). `subscribe(url, listener)` watches the categories `subscribedCategories(url)`
 * (the `category` param as a comma list, default `providers`) of interface `url.path` and calls
 * `listener` with the full current list of entries of those categories — at once (an empty list
 * too) and after every change. Registries do not filter by version or group: the kernel does.
 *
 * What every backend shares is written once in the kernel's registry manager: the in-memory
 * cache, the disk snapshot, retry of failed register/subscribe, re-register and re-subscribe
 * after `reconnected`, several registries at once. A backend only talks to its server; when an
 * operation fails it rejects (with a coded error) and the manager retries it.
 */
export interface Registry {
  register(url: URL): Promise<void>;
  unregister(url: URL): Promise<void>;
  subscribe(url: URL, listener: NotifyListener): Promise<void>;
  unsubscribe(url: URL, listener: NotifyListener): Promise<void>;
  close(): Promise<void>;
  /** Interfaces that have at least one entry in any category (for `plexus ls`). */
  services?(): Promise<string[]>;
  /** A one-shot read of the entries of `url`'s subscribed categories for interface `url.path`. */
  lookup?(url: URL): Promise<URL[]>;
  /** Connection state changes of the backend (see {@link RegistryState}). */
  onStateChange?(listener: (state: RegistryState) => void): void;
}

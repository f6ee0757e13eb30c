import type { URL } from '../url/url';

export const REGISTRY = Symbol.for('plexus.registry');

export type NotifyListener = (urls: URL[]) => void;

/**
 * Service discovery. Scope: one instance per application and registry address. `subscribe`
 * calls the listener with the full current list of provider URLs of the consumer URL's interface
 * (`url.path`), now (an empty list too) and after every change. Registries do not filter by
 * version or group: the kernel's directory does, from the URLs' params. Implementations keep working from their last known state when
 * the backend is down and re-register after it comes back.
 */
export interface Registry {
  register(url: URL): Promise<void>;
  unregister(url: URL): Promise<void>;
  subscribe(url: URL, listener: NotifyListener): Promise<void>;
  unsubscribe(url: URL, listener: NotifyListener): Promise<void>;
  close(): Promise<void>;
}

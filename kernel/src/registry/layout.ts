import { URL } from '../url/url';

/** The categories of entries under one interface (Dubbo's layout). */
export const REGISTRY_CATEGORIES = ['providers', 'consumers', 'routers', 'configurators'] as const;
export type RegistryCategory = (typeof REGISTRY_CATEGORIES)[number];

/** The root every backend writes under unless configured otherwise (`root:` option). */
export const DEFAULT_REGISTRY_ROOT = 'plexus';

function isCategory(value: string): value is RegistryCategory {
  return (REGISTRY_CATEGORIES as readonly string[]).includes(value);
}

/** The category an entry is registered under: `category` param, else by `side`. */
export function categoryOf(url: URL): RegistryCategory {
  const c = url.params.category;
  if (c !== undefined && isCategory(c)) return c;
  return url.params.side === 'consumer' ? 'consumers' : 'providers';
}

/** The categories a subscription watches: the `category` param as a comma list, default `providers`. */
export function subscribedCategories(url: URL): RegistryCategory[] {
  const raw = url.params.category;
  if (!raw) return ['providers'];
  const out = raw
    .split(',')
    .map((s) => s.trim())
    .filter(isCategory);
  return out.length ? [...new Set(out)] : ['providers'];
}

/**
 * Dubbo's layout as paths: `/{root}/{interface}/{category}/{url-encoded URL}`. ZooKeeper uses the
 * paths as nodes, etcd as keys, Redis as key names (`/` kept), a local folder as file names.
 */
export const registryLayout = {
  /** `/{root}` */
  root(root = DEFAULT_REGISTRY_ROOT): string {
    return `/${root.replace(/^\/+|\/+$/g, '')}`;
  },
  /** `/{root}/{interface}` */
  service(iface: string, root = DEFAULT_REGISTRY_ROOT): string {
    return `${registryLayout.root(root)}/${encodeURIComponent(iface)}`;
  },
  /** `/{root}/{interface}/{category}` */
  category(iface: string, category: RegistryCategory, root = DEFAULT_REGISTRY_ROOT): string {
    return `${registryLayout.service(iface, root)}/${category}`;
  },
  /** `/{root}/{interface}/{category}/{url-encoded URL}` for the entry of `url`. */
  entry(url: URL, root = DEFAULT_REGISTRY_ROOT): string {
    return `${registryLayout.category(url.path, categoryOf(url), root)}/${registryLayout.encode(url)}`;
  },
  /** The last path segment of an entry: the URL, url-encoded. */
  encode(url: URL): string {
    return encodeURIComponent(url.toString());
  },
  /**
   * Reads an entry's last segment back; `undefined` when it is not a URL (an entry written by
   * someone else): callers skip it with a warning, they never throw.
   */
  decode(segment: string): URL | undefined {
    try {
      const url = URL.parse(decodeURIComponent(segment));
      return url.path ? url : undefined;
    } catch {
      return undefined;
    }
  },
};

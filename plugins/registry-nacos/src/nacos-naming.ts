import { categoryOf, URL, type RegistryCategory } from '@plexus/kernel/spi';
import { NacosErrors } from './nacos-errors';

/** The instance metadata key that carries the whole Plexus URL, so it decodes losslessly. */
export const URL_METADATA_KEY = 'plexus.url';

/**
 * Longest URL read back from an instance or a rule line, in characters. A provider URL is
 * usually under 2 KiB (long method lists included); a longer one is someone else's garbage.
 */
export const MAX_ENTRY_CHARS = 64 * 1024;

/** Categories stored as Nacos instances (ephemeral, kept alive by heartbeats). */
export const INSTANCE_CATEGORIES: ReadonlySet<RegistryCategory> = new Set(['providers', 'consumers']);

/** Characters Nacos accepts in a config data id. */
const DATA_ID = /^[A-Za-z0-9_.:-]+$/;

/**
 * Dubbo's Nacos service name, `{category}:{interface}:{version}:{group}`, with empty segments for
 * a missing version or group (`providers:demo.Greeter::`), as Dubbo's `NacosServiceName` writes it.
 */
export function serviceNameOf(url: URL, category: RegistryCategory = categoryOf(url)): string {
  const version = url.params.version ?? '';
  const group = url.params.group ?? '';
  for (const [what, value] of [['interface', url.path], ['version', version], ['group', group]] as const) {
    if (value.includes(':')) throw NacosErrors.NAME(what, value, 'it contains ":", the separator of Nacos service names');
    if (value.includes('@@')) throw NacosErrors.NAME(what, value, 'it contains "@@", the separator Nacos puts between group and service');
  }
  if (url.path === '') throw NacosErrors.NAME('interface', url.path, 'it is empty');
  return `${category}:${url.path}:${version}:${group}`;
}

/** The parts of a service name written by {@link serviceNameOf}; undefined for any other name. */
export function parseServiceName(name: string): { category: string; iface: string; version: string; group: string } | undefined {
  const parts = name.split(':');
  if (parts.length !== 4 || parts[1] === '') return undefined;
  const [category, iface, version, group] = parts;
  return { category, iface, version, group };
}

/** The config data id holding the `routers` or `configurators` entries of an interface. */
export function ruleDataId(iface: string, category: RegistryCategory): string {
  return `${category}:${iface}`;
}

/** Whether Nacos accepts `dataId` (letters, digits and `. : _ -`). */
export function isValidDataId(dataId: string): boolean {
  return dataId.length <= 255 && DATA_ID.test(dataId);
}

/**
 * The metadata of the instance standing for `url`: its parameters plus `protocol`, `path` and
 * `category` (what Dubbo's NacosRegistry writes, so Dubbo tooling can read the entry), and the
 * whole URL under {@link URL_METADATA_KEY}, which is what Plexus reads back.
 */
export function metadataOf(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  // Sorted, so the same URL always makes the same request body.
  for (const key of Object.keys(url.params).sort()) out[key] = url.params[key];
  return { ...out, protocol: url.protocol, path: url.path, category: categoryOf(url), [URL_METADATA_KEY]: url.toString() };
}

/** The outcome of reading one entry: a URL, or why it was skipped. */
export type Decoded = { url: URL; skip?: undefined } | { url?: undefined; skip: string };

/** Reads one URL written by Plexus and checks it belongs where it was found. */
export function decodeEntryUrl(text: unknown, iface: string, category: RegistryCategory): Decoded {
  if (typeof text !== 'string' || text === '') return { skip: `it has no "${URL_METADATA_KEY}" metadata (not written by Plexus)` };
  if (text.length > MAX_ENTRY_CHARS) return { skip: `its URL is ${text.length} characters, over ${MAX_ENTRY_CHARS}` };
  let url: URL;
  try {
    url = URL.parse(text);
  } catch {
    return { skip: `"${text.slice(0, 80)}" is not a URL` };
  }
  if (url.path !== iface) return { skip: `its URL names interface "${url.path}", not "${iface}"` };
  if (categoryOf(url) !== category) return { skip: `its URL is of category ${categoryOf(url)}, found under ${category}` };
  return { url };
}

/** One host of an instance list answer, as far as this registry reads it. */
interface NacosHost {
  ip?: unknown;
  port?: unknown;
  enabled?: unknown;
  healthy?: unknown;
  metadata?: unknown;
}

/** The name of an instance in warnings: `service ip:port`. */
export function instanceName(service: string, host: unknown): string {
  const h = (typeof host === 'object' && host !== null ? host : {}) as NacosHost;
  const ip = typeof h.ip === 'string' ? h.ip.slice(0, 64) : '?';
  const port = typeof h.port === 'number' ? h.port : '?';
  return `${service} ${ip}:${port}`;
}

/**
 * Reads one host of an instance list. Disabled instances (an operator took them offline in the
 * Nacos console) and unhealthy ones (their heartbeats stopped: the process is gone or stuck) are
 * left out quietly (`skip: ''`); anything Plexus did not write is skipped with a reason.
 */
export function decodeHost(host: unknown, iface: string, category: RegistryCategory): Decoded {
  if (typeof host !== 'object' || host === null || Array.isArray(host)) return { skip: 'it is not an object' };
  const h = host as NacosHost;
  if (h.enabled === false || h.healthy === false) return { skip: '' };
  const metadata = h.metadata;
  const text = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)[URL_METADATA_KEY] : undefined;
  return decodeEntryUrl(text, iface, category);
}

/** The lines of a rule config: one URL per line; blank lines and `#` comments are allowed. */
export function ruleLines(content: string): string[] {
  return content
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

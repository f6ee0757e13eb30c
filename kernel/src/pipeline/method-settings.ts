import { CONFIG_DEFAULTS } from '../config/defaults';
import { DEFAULT_COMPRESS_THRESHOLD } from '../spi/compressor';
import type { MethodSettings } from '../spi/invocation';

/** Defaults when no level sets a key (config normally sets them; code paths without config rely on these). */
export const SETTING_DEFAULTS = {
  timeout: CONFIG_DEFAULTS.consumer.timeout,
  retries: CONFIG_DEFAULTS.consumer.retries,
  cluster: CONFIG_DEFAULTS.consumer.cluster,
  loadbalance: CONFIG_DEFAULTS.consumer.loadbalance,
  // Unset means: the provider's choice (its URL), else the protocol's default — the protocol decides.
  serializer: '',
  compressor: '',
  compressThreshold: DEFAULT_COMPRESS_THRESHOLD,
  idempotent: true,
  oneWay: false,
  stream: false,
} as const;

/** Keys that are structure, not call settings. */
const STRUCTURAL = new Set(['methods', 'interface', 'implementation', 'url', 'protocol', 'name', 'host', 'port', 'path', 'tls', 'registry', 'router', 'expose', 'check', 'checkTimeout']);

type Level = Readonly<Record<string, unknown>> | undefined;

/**
 * Resolves the effective settings of one method from config levels, least specific first
 * (application, protocol, provider/consumer defaults, service/reference) and the method's own
 * level last. Runs once per reference (or service) and method; the result is shared by every call.
 */
export function resolveMethodSettings(method: string, levels: readonly Level[]): MethodSettings {
  const params: Record<string, string> = {};
  for (const level of levels) {
    if (!level) continue;
    for (const [k, v] of Object.entries(level)) {
      if (v === undefined || v === null || STRUCTURAL.has(k)) continue;
      params[k] = Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
  }
  const num = (k: keyof typeof SETTING_DEFAULTS) => {
    const n = Number(params[k]);
    return params[k] !== undefined && Number.isFinite(n) ? n : (SETTING_DEFAULTS[k] as number);
  };
  const str = (k: keyof typeof SETTING_DEFAULTS) => params[k] || (SETTING_DEFAULTS[k] as string);
  const bool = (k: keyof typeof SETTING_DEFAULTS) =>
    params[k] === undefined ? (SETTING_DEFAULTS[k] as boolean) : params[k] === 'true' || params[k] === '1';
  return Object.freeze({
    method,
    timeout: num('timeout'),
    retries: Math.max(0, num('retries')),
    cluster: str('cluster'),
    loadbalance: str('loadbalance'),
    serializer: str('serializer'),
    compressor: str('compressor'),
    compressThreshold: num('compressThreshold'),
    idempotent: bool('idempotent'),
    oneWay: bool('oneWay'),
    stream: bool('stream'),
    params: Object.freeze(params),
  });
}

/** Flattens config levels into URL parameters: service keys as `k`, method keys as `method.k`. */
export function toUrlParams(levels: readonly Level[], methods?: Readonly<Record<string, Level>>): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (prefix: string, level: Level) => {
    if (!level) return;
    for (const [k, v] of Object.entries(level)) {
      if (v === undefined || v === null || STRUCTURAL.has(k) || typeof v === 'function') continue;
      out[prefix + k] = Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
  };
  for (const level of levels) put('', level);
  for (const [m, level] of Object.entries(methods ?? {})) put(`${m}.`, level);
  return out;
}

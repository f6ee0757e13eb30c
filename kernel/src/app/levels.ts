import type { ServiceConfig } from '../config/types';

/** One level of config keys (application, protocol, provider/consumer, service/reference, method). */
export type Level = Readonly<Record<string, unknown>> | undefined;

/** Service-level keys that become call settings and URL params (structure and provider-only keys left out). */
export function serviceLevel(cfg: ServiceConfig): Record<string, unknown> {
  const { implementation: _i, methods: _m, protocol: _p, interface: _f, executor: _e, threads: _t, queues: _q, expose: _x, ...rest } = cfg;
  return rest;
}

/** A `filter:`-style value as a list: `"a,-b"` or `['a', '-b']`. */
export function asList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(String);
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

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

/** The config keys set at any of `levels` or in any method's settings: what key-gated filters look for. */
export function keysPresent(levels: readonly Level[], methods?: Readonly<Record<string, Level>>): Set<string> {
  const out = new Set<string>();
  const add = (level: Level) => {
    if (level === undefined) return;
    for (const [k, v] of Object.entries(level)) if (v !== undefined && v !== null) out.add(k);
  };
  levels.forEach(add);
  if (methods !== undefined) Object.values(methods).forEach(add);
  return out;
}

/** Whether a filter activated for `side` joins a chain whose config sets `present` (see `Activation.keys`). */
export function activatedFor(activate: { keys?: readonly string[] | { consumer?: readonly string[]; provider?: readonly string[] } } | undefined, side: 'consumer' | 'provider', present: ReadonlySet<string>): boolean {
  const keys = activate?.keys;
  if (keys === undefined) return true;
  const gate = Array.isArray(keys) ? keys : (keys as { consumer?: readonly string[]; provider?: readonly string[] })[side];
  return gate === undefined || gate.some((k) => present.has(k));
}

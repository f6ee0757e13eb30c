import { RateLimitErrors } from './ratelimit-errors';

/** The kernel's built-in liveness method (start checks, health probes): never limited. */
export const ECHO = '$echo';

/** Where one permit bucket is kept: one for every method of a service, or one per method. */
export type RateLimitScope = 'service' | 'method';

/** A parsed `tps` value. */
export interface RateLimitSpec {
  /** Calls per second, > 0. */
  readonly rate: number;
  /**
   * Calls admitted at once after a quiet spell: the bucket's size. Default `ceil(rate)`, one
   * second's worth, so a limit of 50 admits 50 calls in any second, however they are bunched.
   */
  readonly burst: number;
  /**
   * Default `service`: the methods of a service that inherit one `tps` value share its permits
   * (a method that sets a `tps` of its own gets its own bucket, since its value differs or it
   * says `scope: method`).
   */
  readonly scope: RateLimitScope;
  /** `redis`: the limit holds across every process of the cluster (see `RedisWindowLimit`). */
  readonly shared: 'redis' | undefined;
  /** `host:port` of the Redis that shares the limit; default the app's redis registry. */
  readonly redis: string | undefined;
  /**
   * Shared limits count permits per window of this many ms (default 1000): at most
   * `rate × window / 1000` calls in each window, cluster-wide.
   */
  readonly window: number;
}

const KEYS = new Set(['rate', 'burst', 'scope', 'shared', 'redis', 'window']);
/** A config value, not a peer's; the bound only keeps a pasted blob from costing a JSON parse of any size. */
const MAX_TEXT = 4096;

/**
 * Parses the `tps` setting as the kernel resolved it (a string: `50`, or the JSON of an object).
 * Returns null for no limit (`0`, empty, `false`); throws PLEXUS_ERR_RATELIMIT_CONFIG for a value
 * it cannot use. `where` names the method in the message.
 */
export function parseRateLimit(raw: string | undefined, where: string): RateLimitSpec | null {
  if (raw === undefined) return null;
  const text = raw.trim();
  if (text === '' || text === 'false' || text === '0') return null;
  const bad = (problem: string) => RateLimitErrors.CONFIG(where, problem);
  if (text.length > MAX_TEXT) throw bad(`the value is ${text.length} characters long`);
  if (!text.startsWith('{')) {
    const rate = rateOf(Number(text), bad);
    return rate === 0 ? null : spec(rate, {}, bad);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw bad(`not a number nor an object (${(err as Error).message})`);
  }
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.has(k));
  if (unknown.length > 0) throw bad(`unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${[...KEYS].join(', ')})`);
  if (o.rate === undefined) throw bad('the object needs `rate` (calls per second)');
  const rate = rateOf(typeof o.rate === 'number' || typeof o.rate === 'string' ? Number(o.rate) : NaN, bad);
  return rate === 0 ? null : spec(rate, o, bad);
}

function rateOf(rate: number, bad: (problem: string) => Error): number {
  if (!Number.isFinite(rate) || rate < 0) throw bad('the rate must be a number of calls per second, 0 or more');
  return rate;
}

function spec(rate: number, o: Record<string, unknown>, bad: (problem: string) => Error): RateLimitSpec {
  const burst = o.burst === undefined ? Math.max(1, Math.ceil(rate)) : Number(o.burst);
  if (!Number.isInteger(burst) || burst < 1) throw bad('burst must be a whole number of calls, 1 or more');
  const scope = o.scope ?? 'service';
  if (scope !== 'service' && scope !== 'method') throw bad(`scope must be "service" or "method", not ${JSON.stringify(scope)}`);
  const shared = o.shared === undefined || o.shared === false || o.shared === 'false' || o.shared === 'none' ? undefined : o.shared;
  if (shared !== undefined && shared !== 'redis') throw bad(`shared must be "redis" (or left out), not ${JSON.stringify(shared)}`);
  if (o.redis !== undefined && (typeof o.redis !== 'string' || !/^[^\s:/]+:\d{1,5}$/.test(o.redis.replace(/^redis:\/\//i, '')))) {
    throw bad('redis must be "host:port"');
  }
  const window = o.window === undefined ? 1000 : Number(o.window);
  if (!Number.isInteger(window) || window < 10 || window > 3_600_000) throw bad('window must be a whole number of ms from 10 to 3600000');
  return { rate, burst, scope, shared, redis: o.redis as string | undefined, window };
}

/** One config level that may hold call keys, and where it is (`services[0].methods.get`), for messages. */
export interface ConfigLevel {
  where: string;
  level: Readonly<Record<string, unknown>>;
}

/**
 * The levels of a resolved config where call keys may stand: provider and consumer defaults,
 * each service and reference, and their methods. Filters walk them when created (during
 * `start()`), so a malformed value in a config file fails the start instead of the first call.
 */
export function configLevels(config: unknown): ConfigLevel[] {
  const c = (config ?? {}) as {
    provider?: Record<string, unknown>;
    consumer?: Record<string, unknown>;
    services?: Array<Record<string, unknown>>;
    references?: Record<string, Record<string, unknown>>;
  };
  const out: ConfigLevel[] = [];
  const add = (where: string, level: unknown) => {
    if (typeof level === 'object' && level !== null) out.push({ where, level: level as Record<string, unknown> });
  };
  const withMethods = (where: string, level: Record<string, unknown> | undefined) => {
    add(where, level);
    const methods = level?.methods;
    if (typeof methods === 'object' && methods !== null) for (const [m, l] of Object.entries(methods)) add(`${where}.methods.${m}`, l);
  };
  add('provider', c.provider);
  add('consumer', c.consumer);
  (Array.isArray(c.services) ? c.services : []).forEach((s, i) => withMethods(`services[${i}]`, s));
  for (const [id, r] of Object.entries(c.references ?? {})) withMethods(`references.${id}`, r);
  return out;
}

/** A key's value as the kernel hands it to filters (`MethodSettings.params`): objects as JSON, the rest as text. */
export function asParam(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Throws the first `tps` value in the config that cannot be used (PLEXUS_ERR_RATELIMIT_CONFIG). */
export function checkRateLimitConfig(config: unknown): Array<{ where: string; spec: RateLimitSpec }> {
  const specs: Array<{ where: string; spec: RateLimitSpec }> = [];
  for (const { where, level } of configLevels(config)) {
    const spec = parseRateLimit(asParam(level.tps), where);
    if (spec !== null) specs.push({ where, spec });
  }
  return specs;
}

import {
  loopNow,
  CONFIG,
  definePlugin,
  type CallInterceptor,
  type ExtensionContext,
  type Filter,
  type Invocation,
  type Invoker,
  type Logger,
  type MethodSettings,
  type Result,
} from '@plexus/kernel/spi';
import { TokenBucket, type Clock } from './ratelimit-bucket';
import { callName, configRefusal, rateLimited, RateLimitErrors } from './ratelimit-errors';
import { acquireStore, RedisWindowLimit, type RedisTarget } from './ratelimit-redis';
import { checkRateLimitConfig, ECHO, parseRateLimit, type RateLimitSpec } from './ratelimit-spec';

/** Options under `extensions.filter.ratelimit`: the Redis of shared limits, when not the registry's. */
export interface RateLimitOptions {
  /** `host:port` of the Redis that shared limits (`shared: redis`) use. Default: the app's redis registry. */
  redis?: string;
  /** Its password (default: the redis registry's, when the address is taken from there). */
  password?: string;
  /** Its database number (default 0, or the redis registry's). */
  db?: number;
}

/** One method's decision: no limit, a limit, or a `tps` value that cannot be used. */
interface Gate {
  admit(): boolean | Promise<boolean>;
  refuse(invocation: Invocation, side: 'consumer' | 'provider'): Error;
  close?(): void;
}

class LocalGate implements Gate {
  constructor(private readonly spec: RateLimitSpec, private readonly bucket: TokenBucket) {}
  admit(): boolean {
    return this.bucket.tryTake();
  }
  refuse(invocation: Invocation, side: 'consumer' | 'provider'): Error {
    return rateLimited(invocation, this.spec.rate, side, false);
  }
}

class SharedGate implements Gate {
  constructor(private readonly spec: RateLimitSpec, private readonly limit: RedisWindowLimit) {}
  admit(): boolean | Promise<boolean> {
    return this.limit.tryAcquire();
  }
  refuse(invocation: Invocation, side: 'consumer' | 'provider'): Error {
    return rateLimited(invocation, this.spec.rate, side, true);
  }
  close(): void {
    this.limit.release();
  }
}

class BrokenGate implements Gate {
  constructor(private readonly error: Error & { code?: string }) {}
  admit(): boolean {
    return false;
  }
  refuse(): Error {
    return configRefusal(this.error);
  }
}

/**
 * The `ratelimit` filter (`tps`): a token bucket per service or per method, on the provider (a
 * refused call is LIMIT_EXCEEDED, retryable on another node) and on the consumer (refused before
 * it leaves). With `shared: redis` the limit holds across the cluster through Redis (see
 * {@link RedisWindowLimit}), falling back to the local bucket while Redis is away.
 *
 * Scope: one instance per service or reference chain, called concurrently. A method without `tps`
 * costs one WeakMap lookup per call: the decision is made on its first call and kept with its
 * (immutable, per-method) settings.
 */
export class RateLimitFilter implements Filter {
  private readonly gates = new WeakMap<MethodSettings, Gate | null>();
  /** Gates by bucket key, so the methods of a `scope: service` limit share one bucket. */
  private readonly byKey = new Map<string, Gate>();
  private readonly logger: Logger;
  private readonly config: unknown;

  constructor(
    private readonly ctx: ExtensionContext,
    private readonly clock: Clock = loopNow,
  ) {
    this.logger = ctx.logger;
    this.config = optional(ctx, CONFIG);
  }

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    const gate = this.gateFor(invocation);
    if (gate === null) return next.invoke(invocation);
    const admitted = gate.admit();
    if (admitted === true) return next.invoke(invocation);
    const side = invocation.remoteAddress !== undefined ? 'provider' : 'consumer';
    if (admitted === false) return Promise.reject(gate.refuse(invocation, side));
    const g = gate;
    return admitted.then((ok) => (ok ? next.invoke(invocation) : Promise.reject(g.refuse(invocation, side))));
  }

  /** The callback form: a token taken (or the call refused) before it runs; nothing after. */
  readonly interceptor: CallInterceptor = {
    before: (invocation: Invocation): void | Promise<void> => {
      const gate = this.gateFor(invocation);
      if (gate === null) return;
      const admitted = gate.admit();
      if (admitted === true) return;
      const side = invocation.remoteAddress !== undefined ? 'provider' : 'consumer';
      if (admitted === false) throw gate.refuse(invocation, side);
      return admitted.then((ok) => {
        if (!ok) throw gate.refuse(invocation, side);
      });
    },
    after: (): void => undefined,
  };

  private gateFor(invocation: Invocation): Gate | null {
    let gate = this.gates.get(invocation.settings);
    if (gate === undefined) {
      gate = this.gateOf(invocation);
      this.gates.set(invocation.settings, gate);
    }
    return gate;
  }

  /** Closes the Redis connections of shared limits (the last user of one closes it). */
  close(): void {
    for (const gate of this.byKey.values()) gate.close?.();
    this.byKey.clear();
  }

  private gateOf(invocation: Invocation): Gate | null {
    // The kernel's `$echo` (start checks, health probes) asks whether a node answers; it is not a call to limit.
    if (invocation.method === ECHO) return null;
    const raw = invocation.settings.params.tps;
    const side = invocation.remoteAddress !== undefined ? 'provider' : 'consumer';
    const where = `${callName(invocation)} (${side})`;
    let spec: RateLimitSpec | null;
    try {
      spec = parseRateLimit(raw, where);
    } catch (err) {
      return this.broken(err as Error);
    }
    if (spec === null) return null;
    const key = `${side}\u0000${spec.scope === 'method' ? `#${invocation.method}` : `*${raw}`}`;
    const known = this.byKey.get(key);
    if (known) return known;
    let gate: Gate;
    try {
      gate = spec.shared === 'redis' ? this.sharedGate(spec, invocation, side, where) : new LocalGate(spec, new TokenBucket(spec.rate, spec.burst, this.clock));
    } catch (err) {
      return this.broken(err as Error);
    }
    this.byKey.set(key, gate);
    return gate;
  }

  private sharedGate(spec: RateLimitSpec, invocation: Invocation, side: string, where: string): Gate {
    const target = redisTargetOf(spec, this.ctx.options as RateLimitOptions, this.config);
    if (target === undefined) throw RateLimitErrors.NO_REDIS(where);
    const store = acquireStore(target, this.logger, this.clock);
    const perWindow = Math.max(1, Math.floor((spec.rate * spec.window) / 1000));
    // Batches keep the round trips per admitted call low at high rates; what a process leaves
    // unspent at the end of a window is at most one batch, so the cluster stays under the limit.
    const batch = Math.max(1, Math.floor(perWindow / 100));
    const scope = spec.scope === 'method' ? invocation.method : '*';
    const key = `plexus:tps:${side}:${invocation.serviceKey || invocation.service}:${scope}`;
    const fallback = new TokenBucket(spec.rate, spec.burst, this.clock);
    return new SharedGate(spec, new RedisWindowLimit(store, key, perWindow, spec.window, batch, fallback, this.clock));
  }

  private broken(err: Error): Gate {
    // Logged once per method: every call of it is refused with the same coded error.
    this.logger.error(err.message, { code: (err as { code?: string }).code });
    return new BrokenGate(err);
  }
}

/** The Redis of a shared limit: the tps value's `redis`, the extension's options, else the app's redis registry. */
export function redisTargetOf(spec: RateLimitSpec, options: RateLimitOptions, config: unknown): RedisTarget | undefined {
  const explicit = spec.redis ?? options.redis;
  if (explicit !== undefined) return { ...hostPort(explicit), password: options.password, db: options.db };
  const c = (config ?? {}) as { registry?: unknown; registries?: unknown[] };
  for (const r of [c.registry, ...(Array.isArray(c.registries) ? c.registries : [])]) {
    if (typeof r === 'string' && /^redis:\/\//i.test(r)) return hostPort(r);
    if (typeof r === 'object' && r !== null) {
      const reg = r as { type?: unknown; address?: unknown; password?: unknown; db?: unknown };
      if (reg.type === 'redis' && typeof reg.address === 'string') {
        return {
          ...hostPort(reg.address),
          password: typeof reg.password === 'string' ? reg.password : undefined,
          db: typeof reg.db === 'number' ? reg.db : undefined,
        };
      }
    }
  }
  return undefined;
}

function optional<T>(ctx: ExtensionContext, token: symbol): T | undefined {
  try {
    return ctx.inject<T>(token);
  } catch {
    return undefined;
  }
}

/**
 * Checks every `tps` in the config when the filter is created (during `start()`): a malformed
 * value, or a shared limit with no Redis to share through, fails the start with its code.
 */
function checkAtStart(ctx: ExtensionContext): void {
  const config = optional(ctx, CONFIG);
  for (const { where, spec } of checkRateLimitConfig(config)) {
    if (spec.shared === 'redis' && redisTargetOf(spec, ctx.options as RateLimitOptions, config) === undefined) throw RateLimitErrors.NO_REDIS(where);
  }
}

function hostPort(address: string): { host: string; port: number } {
  const text = address.trim().replace(/^redis:\/\//i, '').replace(/\/.*$/, '');
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  return at > 0 && Number.isInteger(port) && port > 0 && port < 65536 ? { host: text.slice(0, at), port } : { host: text, port: 6379 };
}

export default definePlugin({
  name: '@plexus/filters',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'ratelimit',
      keys: ['tps'],
      // Early on both sides: a refused call should cost as little as possible.
      activate: { side: ['consumer', 'provider'], order: -900, stage: 'cluster', keys: ['tps'] },
      optionsSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          redis: { type: 'string', minLength: 1 },
          password: { type: 'string' },
          db: { type: 'integer', minimum: 0 },
        },
      },
      create: (ctx) => {
        checkAtStart(ctx);
        return new RateLimitFilter(ctx);
      },
    },
  ],
});

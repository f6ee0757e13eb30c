import type { Logger } from '@plexus/kernel/spi';
import type { Clock, TokenBucket } from './ratelimit-bucket';
import { RateLimitErrors } from './ratelimit-errors';

/**
 * Grants up to ARGV[3] permits of the current window of KEYS[1], whose size is ARGV[1] permits
 * per ARGV[2] ms. The window comes from the server's clock (TIME), so processes whose clocks
 * disagree still count into the same window. Answers { granted, ms left in the window }. One
 * script run is atomic, so two processes never both take the last permit.
 */
const GRANT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local size = tonumber(ARGV[2])
local window = math.floor(now / size)
local key = KEYS[1] .. ':' .. window
local used = tonumber(redis.call('GET', key) or '0')
local left = (window + 1) * size - now
local granted = math.min(tonumber(ARGV[3]), tonumber(ARGV[1]) - used)
if granted <= 0 then return { 0, left } end
redis.call('INCRBY', key, granted)
redis.call('PEXPIRE', key, size * 2)
return { granted, left }
`;

/** After a failed Redis command, the local limit serves for at least this long before Redis is tried again. */
const RETRY_MS = 1000;
/** How long one grant may take before the call is limited locally instead: a slow Redis must not slow every call. */
const COMMAND_TIMEOUT_MS = 250;

/** Where a shared limit's Redis is. */
export interface RedisTarget {
  host: string;
  port: number;
  password?: string;
  db?: number;
}

/** One grant: how many permits, valid for how many more ms (the rest of the window). */
interface Grant {
  permits: number;
  msLeft: number;
}

/**
 * What the store uses of an ioredis client, written out so that the published types do not
 * depend on `ioredis`, an optional peer dependency.
 */
export interface GrantClient {
  readonly status: string;
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  disconnect(): void;
  /** The command `defineCommand` adds for the grant script. */
  plexusTpsGrant(key: string, limit: number, windowMs: number, wanted: number): Promise<unknown>;
}

/**
 * One Redis connection that shared limits of this process take permits through, and the state of
 * the outage logic: when a command fails, every limit on it falls back to its local bucket, once
 * logged (PLEXUS_ERR_RATELIMIT_SHARED_DOWN), and tries Redis again after {@link RETRY_MS} once the
 * client is connected; the first success is logged too. Scope: one per Redis address in a process,
 * shared by reference count.
 */
export class RedisPermitStore {
  private down = false;
  private retryAt = 0;
  private refs = 0;

  constructor(
    readonly address: string,
    private readonly client: GrantClient,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly onLastRelease: () => void,
  ) {
    client.defineCommand('plexusTpsGrant', { numberOfKeys: 1, lua: GRANT_SCRIPT });
    // ioredis reports every failed (re)connection here; without a listener it would be an unhandled 'error'.
    client.on('error', (err: Error) => this.failed(err.message));
  }

  /** Whether shared limits should ask Redis now (connected, not within a retry pause). */
  usable(now: number): boolean {
    return this.client.status === 'ready' && now >= this.retryAt;
  }

  /** Asks for up to `wanted` permits of the window at `key`. */
  async grant(key: string, limit: number, windowMs: number, wanted: number): Promise<Grant> {
    let reply: unknown;
    try {
      reply = await this.client.plexusTpsGrant(key, limit, windowMs, wanted);
    } catch (err) {
      this.failed((err as Error)?.message ?? String(err));
      throw err;
    }
    const grant = parseGrant(reply, wanted, windowMs);
    if (grant === undefined) {
      const cause = 'a malformed reply to the grant script';
      this.failed(cause);
      throw new Error(cause);
    }
    if (this.down) {
      this.down = false;
      this.logger.info(`ratelimit: the Redis at ${this.address} is back; shared rate limits apply again`);
    }
    return grant;
  }

  /** A command or the connection failed: local limits from now on, logged once per outage. */
  failed(cause: string): void {
    this.retryAt = this.clock() + RETRY_MS;
    if (this.down) return;
    this.down = true;
    const err = RateLimitErrors.SHARED_DOWN(this.address, cause);
    this.logger.warn(err.message, { code: err.code });
  }

  retain(): this {
    this.refs++;
    return this;
  }

  /** Drops one user; the last one closes the connection. */
  release(): void {
    if (--this.refs > 0) return;
    this.onLastRelease();
    this.client.disconnect();
  }
}

function parseGrant(reply: unknown, wanted: number, windowMs: number): Grant | undefined {
  if (!Array.isArray(reply) || reply.length !== 2) return undefined;
  const [permits, msLeft] = reply.map(Number);
  if (!Number.isInteger(permits) || permits < 0 || permits > wanted) return undefined;
  if (!Number.isFinite(msLeft) || msLeft < 0 || msLeft > windowMs) return undefined;
  return { permits, msLeft };
}

const stores = new Map<string, RedisPermitStore>();

/**
 * The process's store for `target`, created on first use. `ioredis` is required here, lazily:
 * only shared limits need it. Throws PLEXUS_ERR_RATELIMIT_NO_CLIENT when it is not installed.
 */
export function acquireStore(target: RedisTarget, logger: Logger, clock: Clock = Date.now): RedisPermitStore {
  const address = `${target.host}:${target.port}`;
  const id = `${address}/${target.db ?? 0}/${target.password ?? ''}`;
  const known = stores.get(id);
  if (known) return known.retain();
  let Redis: new (options: Record<string, unknown>) => GrantClient;
  try {
    const mod = require('ioredis') as { default?: unknown; Redis?: unknown };
    Redis = (mod.default ?? mod.Redis ?? mod) as typeof Redis;
  } catch (err) {
    throw RateLimitErrors.NO_CLIENT((err as Error).message.split('\n')[0]);
  }
  const client = new Redis({
    host: target.host,
    port: target.port,
    password: target.password,
    db: target.db ?? 0,
    // Calls never wait for a connection: while there is none, limits are local.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    lazyConnect: false,
  });
  const store = new RedisPermitStore(address, client, logger, clock, () => stores.delete(id));
  stores.set(id, store);
  return store.retain();
}

/**
 * A rate limit that holds across every process sharing one Redis: each window of `windowMs` admits
 * at most `perWindow` calls in all. A process takes permits from Redis (one script run for all the
 * calls waiting at that moment, and at least `batch`), spends them locally until the window ends,
 * and once Redis says the window is spent refuses locally until the next one — so refused calls
 * cost no round trip. Only one grant is in flight per limit: calls arriving meanwhile wait for it
 * and are served from what it brings, or by the next grant. While Redis cannot be used, the
 * process's own `fallback` bucket decides. Scope: one per limited service or method per process.
 */
export class RedisWindowLimit {
  private permits = 0;
  private permitsUntil = 0;
  private exhaustedUntil = 0;
  private fetching = false;
  /** Calls waiting for the grant in flight (or the next one), first come first served. */
  private waiters: Array<(admitted: boolean) => void> = [];

  constructor(
    private readonly store: RedisPermitStore,
    private readonly key: string,
    private readonly perWindow: number,
    private readonly windowMs: number,
    private readonly batch: number,
    private readonly fallback: TokenBucket,
    private readonly clock: Clock = Date.now,
  ) {}

  /** When the grant being fetched was asked for (this process's clock). */
  private askedAt = 0;

  /** True or false at once when it can decide locally, else a promise of the answer. */
  tryAcquire(): boolean | Promise<boolean> {
    const now = this.clock();
    if (this.waiters.length === 0) {
      if (!this.store.usable(now)) return this.fallback.tryTake();
      if (this.permits > 0 && now < this.permitsUntil) {
        this.permits--;
        return true;
      }
      if (now < this.exhaustedUntil) return false;
    }
    return new Promise<boolean>((resolve) => {
      this.waiters.push(resolve);
      this.fetch();
    });
  }

  private fetch(): void {
    if (this.fetching) return;
    this.fetching = true;
    // Enough for every waiting call (the window's size at most), and at least a batch.
    const wanted = Math.min(this.perWindow, Math.max(this.batch, this.waiters.length));
    this.askedAt = this.clock();
    this.store.grant(this.key, this.perWindow, this.windowMs, wanted).then(this.granted, this.failed);
  }

  private readonly granted = (grant: Grant): void => {
    this.fetching = false;
    const now = this.clock();
    // The window's time left was read by the server after the request left: counted from then, the
    // permits never outlive their window, however long the answer took to come back.
    const until = this.askedAt + grant.msLeft;
    const waiters = this.waiters;
    if (grant.permits === 0) {
      this.exhaustedUntil = until;
      this.waiters = [];
      for (const w of waiters) w(false);
      return;
    }
    // Permits of an ended window are void: counting them into the next would exceed its limit.
    this.permits = (now >= this.permitsUntil ? 0 : this.permits) + grant.permits;
    this.permitsUntil = until;
    let served = 0;
    while (served < waiters.length && this.permits > 0) {
      this.permits--;
      waiters[served++](true);
    }
    waiters.splice(0, served);
    if (waiters.length > 0) this.fetch();
  };

  private readonly failed = (): void => {
    this.fetching = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(this.fallback.tryTake());
  };

  release(): void {
    this.store.release();
  }
}

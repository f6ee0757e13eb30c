import { RpcCode, RpcError, RpcInvocation, type MethodSettings } from '@plexus/kernel/spi';
import { FakeInvoker, MemoryLogger, fakeExtensionContext, filterContract, methodSettings, rejectionOf } from '@plexus/kernel/testing';
import plugin, { RateLimitFilter, redisTargetOf } from '../src/ratelimit-filter';
import { TokenBucket } from '../src/ratelimit-bucket';
import { RedisPermitStore, RedisWindowLimit } from '../src/ratelimit-redis';
import { RATE_LIMITED_REASON } from '../src/ratelimit-errors';
import { parseRateLimit } from '../src/ratelimit-spec';

/** A clock the tests move by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const node = () => new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { value: 'ok' });

function call(filter: RateLimitFilter, settings: MethodSettings, side: 'consumer' | 'provider', method = settings.method) {
  const inv = new RpcInvocation({
    service: 'demo.Greeter',
    method,
    args: [],
    attachments: {},
    settings,
    remoteAddress: side === 'provider' ? '127.0.0.1:5000' : undefined,
  });
  return filter.invoke(node(), inv);
}

/** How many of `n` calls made at once are admitted. */
async function admitted(filter: RateLimitFilter, settings: MethodSettings, n: number, side: 'consumer' | 'provider' = 'provider'): Promise<number> {
  const outcomes = await Promise.allSettled(Array.from({ length: n }, () => call(filter, settings, side)));
  return outcomes.filter((o) => o.status === 'fulfilled').length;
}

filterContract('ratelimit (no tps)', () => new RateLimitFilter(fakeExtensionContext()), { interceptor: true });
filterContract('ratelimit (tps far above the suite)', () => new RateLimitFilter(fakeExtensionContext()), {
  invocation: { settings: { params: { tps: '100000' } } },
  interceptor: true,
});

describe('parseRateLimit', () => {
  it('reads a number as calls per second with one second of burst', () => {
    expect(parseRateLimit('50', 'm')).toEqual({ rate: 50, burst: 50, scope: 'service', shared: undefined, redis: undefined, window: 1000 });
    expect(parseRateLimit('0.5', 'm')).toMatchObject({ rate: 0.5, burst: 1 });
  });

  it('reads the object form with every option', () => {
    const spec = parseRateLimit(JSON.stringify({ rate: 10, burst: 3, scope: 'method', shared: 'redis', redis: '10.0.0.9:6380', window: 500 }), 'm');
    expect(spec).toEqual({ rate: 10, burst: 3, scope: 'method', shared: 'redis', redis: '10.0.0.9:6380', window: 500 });
  });

  it('0, empty and false mean no limit', () => {
    for (const v of ['0', '', 'false', '{"rate":0}', undefined]) expect(parseRateLimit(v, 'm')).toBeNull();
  });

  it.each([
    ['-1', 'the rate must be a number'],
    ['fast', 'the rate must be a number'],
    ['{"rate":10,"burts":5}', 'unknown key "burts"'],
    ['{"burst":5}', 'needs `rate`'],
    ['{"rate":10,"burst":0}', 'burst must be'],
    ['{"rate":10,"scope":"node"}', 'scope must be'],
    ['{"rate":10,"shared":"zookeeper"}', 'shared must be "redis"'],
    ['{"rate":10,"redis":"no-port"}', 'redis must be "host:port"'],
    ['{"rate":10,"window":5}', 'window must be'],
    ['[1,2]', 'the rate must be a number'],
    ['{"rate":"x"}', 'the rate must be a number'],
    ['{"rate":', 'not a number nor an object'],
  ])('refuses %s with a coded error', (raw, text) => {
    let err: unknown;
    try {
      parseRateLimit(raw, 'demo.Greeter.sayHello');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'PLEXUS_ERR_RATELIMIT_CONFIG' });
    expect((err as Error).message).toContain(text);
    expect((err as Error).message).toContain('demo.Greeter.sayHello');
  });
});

describe('TokenBucket', () => {
  it('starts full, refills at the rate and never holds more than the burst', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10, 3, clock.now);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([true, true, true, false]);
    clock.advance(99);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(1); // 100 ms at 10/s = one permit
    expect([bucket.tryTake(), bucket.tryTake()]).toEqual([true, false]);
    clock.advance(60_000);
    let n = 0;
    while (bucket.tryTake()) n++;
    expect(n).toBe(3);
  });

  it('a clock that steps back refills nothing and does not break the bucket', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10, 1, clock.now);
    expect(bucket.tryTake()).toBe(true);
    clock.advance(-5000);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(100);
    expect(bucket.tryTake()).toBe(true);
  });
});

describe('ratelimit filter', () => {
  it('admits the burst, then the rate: 50/s admits 50 at once and 5 more after 100 ms', async () => {
    const clock = manualClock();
    const filter = new RateLimitFilter(fakeExtensionContext(), clock.now);
    const settings = methodSettings({ params: { tps: '50' } });
    expect(await admitted(filter, settings, 80)).toBe(50);
    clock.advance(100);
    expect(await admitted(filter, settings, 80)).toBe(5);
  });

  it('burst sets how many calls pass at once after a quiet spell', async () => {
    const clock = manualClock();
    const filter = new RateLimitFilter(fakeExtensionContext(), clock.now);
    const settings = methodSettings({ params: { tps: '{"rate":50,"burst":5}' } });
    expect(await admitted(filter, settings, 20)).toBe(5);
    clock.advance(10_000);
    expect(await admitted(filter, settings, 20)).toBe(5);
  });

  it('refuses on the provider with a retryable LIMIT_EXCEEDED, on the consumer with a non-retryable one', async () => {
    const filter = new RateLimitFilter(fakeExtensionContext(), manualClock().now);
    const settings = methodSettings({ params: { tps: '{"rate":1,"burst":1}' } });
    const consumerSettings = methodSettings({ params: { tps: '{"rate":1,"burst":1}' } });
    await call(filter, settings, 'provider');
    const onProvider = (await rejectionOf(call(filter, settings, 'provider'))) as RpcError;
    expect(RpcError.is(onProvider)).toBe(true);
    expect(onProvider).toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: RATE_LIMITED_REASON, retryable: true });
    expect(onProvider.message).toMatch(/demo\.Greeter\.sayHello admits 1 call\/s on the provider[\s\S]*hint:/);
    await call(filter, consumerSettings, 'consumer');
    const onConsumer = (await rejectionOf(call(filter, consumerSettings, 'consumer'))) as RpcError;
    expect(onConsumer).toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: RATE_LIMITED_REASON, retryable: false });
  });

  it('a refused call never reaches the next invoker', async () => {
    const filter = new RateLimitFilter(fakeExtensionContext(), manualClock().now);
    const settings = methodSettings({ params: { tps: '{"rate":1,"burst":1}' } });
    await call(filter, settings, 'provider');
    const next = node();
    const inv = new RpcInvocation({ service: 'demo.Greeter', method: 'sayHello', args: [], attachments: {}, settings, remoteAddress: 'x:1' });
    await rejectionOf(filter.invoke(next, inv));
    expect(next.calls).toBe(0);
  });

  it('scope service: methods inheriting one tps share its permits; scope method: each has its own', async () => {
    const clock = manualClock();
    const filter = new RateLimitFilter(fakeExtensionContext(), clock.now);
    const shared = '{"rate":10,"burst":10}';
    const a = methodSettings({ method: 'a', params: { tps: shared } });
    const b = methodSettings({ method: 'b', params: { tps: shared } });
    expect(await admitted(filter, a, 6)).toBe(6);
    expect(await admitted(filter, b, 6)).toBe(4);

    const own = '{"rate":10,"burst":10,"scope":"method"}';
    const c = methodSettings({ method: 'c', params: { tps: own } });
    const d = methodSettings({ method: 'd', params: { tps: own } });
    expect(await admitted(filter, c, 6)).toBe(6);
    expect(await admitted(filter, d, 6)).toBe(6);
  });

  it('consumer and provider limits are counted apart, even with equal values', async () => {
    const filter = new RateLimitFilter(fakeExtensionContext(), manualClock().now);
    const value = '{"rate":3,"burst":3}';
    expect(await admitted(filter, methodSettings({ params: { tps: value } }), 5, 'provider')).toBe(3);
    expect(await admitted(filter, methodSettings({ params: { tps: value } }), 5, 'consumer')).toBe(3);
  });

  it("the kernel's $echo (start checks, health probes) is never limited nor counted", async () => {
    const filter = new RateLimitFilter(fakeExtensionContext(), manualClock().now);
    const tps = '{"rate":1,"burst":1}';
    expect(await admitted(filter, methodSettings({ method: '$echo', params: { tps } }), 5)).toBe(5);
    expect(await admitted(filter, methodSettings({ params: { tps } }), 5)).toBe(1);
  });

  it('a method with tps 0 is not limited although its service is', async () => {
    const filter = new RateLimitFilter(fakeExtensionContext(), manualClock().now);
    expect(await admitted(filter, methodSettings({ method: 'limited', params: { tps: '2' } }), 10)).toBe(2);
    expect(await admitted(filter, methodSettings({ method: 'free', params: { tps: '0' } }), 10)).toBe(10);
  });

  it('an unusable tps refuses every call of the method with a coded error and is logged once', async () => {
    const logger = new MemoryLogger();
    const filter = new RateLimitFilter(fakeExtensionContext({}, { logger }));
    const settings = methodSettings({ params: { tps: '{"rate":10,"burts":2}' } });
    const errors = (await Promise.all([1, 2, 3].map(() => rejectionOf(call(filter, settings, 'provider'))))) as RpcError[];
    for (const e of errors) expect(e).toMatchObject({ code: RpcCode.SERVER_ERROR, reason: 'PLEXUS_ERR_RATELIMIT_CONFIG', retryable: false });
    expect(errors[0].message).toContain('unknown key "burts"');
    expect(logger.entries.filter((e) => e.fields?.code === 'PLEXUS_ERR_RATELIMIT_CONFIG')).toHaveLength(1);
  });

  it('shared: redis without any Redis address refuses with PLEXUS_ERR_RATELIMIT_NO_REDIS', async () => {
    const logger = new MemoryLogger();
    const config = { registry: { type: 'local' }, registries: [] };
    const filter = new RateLimitFilter(fakeExtensionContext({}, { logger, values: new Map([[Symbol.for('plexus.config'), config]]) }));
    const err = (await rejectionOf(call(filter, methodSettings({ params: { tps: '{"rate":5,"shared":"redis"}' } }), 'provider'))) as RpcError;
    expect(err).toMatchObject({ code: RpcCode.SERVER_ERROR, reason: 'PLEXUS_ERR_RATELIMIT_NO_REDIS' });
    expect(err.message).toContain('hint:');
    expect(logger.entries.map((e) => e.fields?.code)).toEqual(['PLEXUS_ERR_RATELIMIT_NO_REDIS']);
  });

  it('declares the tps key and joins both sides early', () => {
    const def = plugin.extensions.find((e) => e.name === 'ratelimit')!;
    expect(def.keys).toEqual(['tps']);
    expect(def.activate?.side).toEqual(['consumer', 'provider']);
  });
});

describe('the Redis of a shared limit', () => {
  const spec = (extra: Record<string, unknown> = {}) => parseRateLimit(JSON.stringify({ rate: 5, shared: 'redis', ...extra }), 'm')!;

  it("defaults to the app's redis registry, with its password and db", () => {
    const config = { registry: { type: 'redis', address: 'redis://10.1.1.1:6390', password: 'pw', db: 2 } };
    expect(redisTargetOf(spec(), {}, config)).toEqual({ host: '10.1.1.1', port: 6390, password: 'pw', db: 2 });
  });

  it('finds a redis registry among registries:, also in the URL form', () => {
    expect(redisTargetOf(spec(), {}, { registry: { type: 'local' }, registries: ['zookeeper://10.0.0.1:2181', 'redis://10.0.0.2:6379'] })).toEqual({
      host: '10.0.0.2',
      port: 6379,
    });
  });

  it('extension options win over the registry, and the tps value wins over both', () => {
    const config = { registry: { type: 'redis', address: '10.1.1.1:6390' } };
    expect(redisTargetOf(spec(), { redis: '10.2.2.2:7000', password: 'opt', db: 1 }, config)).toEqual({ host: '10.2.2.2', port: 7000, password: 'opt', db: 1 });
    expect(redisTargetOf(spec({ redis: '10.3.3.3:7001' }), { redis: '10.2.2.2:7000' }, config)).toMatchObject({ host: '10.3.3.3', port: 7001 });
  });

  it('is undefined without any', () => {
    expect(redisTargetOf(spec(), {}, { registry: { type: 'local' } })).toBeUndefined();
  });
});

describe('RedisWindowLimit against a misbehaving server', () => {
  /** A stand-in for the ioredis client answering the grant script with `reply`. */
  function store(reply: () => Promise<unknown>, logger: MemoryLogger) {
    const client = { status: 'ready', defineCommand: () => undefined, on: () => client, disconnect: () => undefined, plexusTpsGrant: reply };
    return new RedisPermitStore('10.9.9.9:6379', client as never, logger, Date.now, () => undefined).retain();
  }

  it.each([
    ['not an array', async () => 'OK'],
    ['more permits than asked', async () => [5000, 100]],
    ['a negative count', async () => [-1, 100]],
    ['a window longer than asked', async () => [1, 10_000_000]],
    ['a rejected command', async () => Promise.reject(new Error('NOSCRIPT No matching script'))],
  ])('%s: the local bucket decides and the outage is logged once with a code', async (_what, reply) => {
    const logger = new MemoryLogger();
    const limit = new RedisWindowLimit(store(reply, logger), 'k', 10, 1000, 1, new TokenBucket(2, 2), Date.now);
    const answers = [await limit.tryAcquire(), await limit.tryAcquire(), await limit.tryAcquire()];
    expect(answers).toEqual([true, true, false]);
    expect(logger.entries.map((e) => e.fields?.code)).toEqual(['PLEXUS_ERR_RATELIMIT_SHARED_DOWN']);
  });
});

describe('RedisWindowLimit: permits never outlive their window', () => {
  it('counts the window\'s time left from when the grant was asked, not from when a slow answer arrived', async () => {
    const logger = new MemoryLogger();
    let now = 10_000;
    // The server says: 5 permits, 100 ms left in the window; the answer takes 60 ms to come back.
    const reply = async () => {
      now += 60;
      return [5, 100];
    };
    const client = { status: 'ready', defineCommand: () => undefined, on: () => client, disconnect: () => undefined, plexusTpsGrant: reply };
    const store = new RedisPermitStore('10.9.9.9:6379', client as never, logger, () => now, () => undefined).retain();
    const limit = new RedisWindowLimit(store, 'k', 10, 1000, 5, new TokenBucket(2, 2), () => now);
    await expect(limit.tryAcquire()).resolves.toBe(true);
    // 4 permits are left until 10,100 (asked at 10,000 + 100 ms), not 10,160.
    now = 10_099;
    expect(limit.tryAcquire()).toBe(true);
    now = 10_120;
    const after = limit.tryAcquire();
    expect(after).not.toBe(true);
    await after;
  });
});


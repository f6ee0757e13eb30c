import { invokeIntercepted, RpcCode, RpcError, RpcInvocation, type Invocation, type Invoker, type MethodSettings, type Result } from '@plexus/kernel/spi';
import { FakeInvoker, MemoryLogger, filterContract, methodSettings, rejectionOf } from '@plexus/kernel/testing';
import plugin, { ConcurrencyFilter } from '../src/concurrency-filter';
import { ACTIVES_REASON, EXECUTES_REASON } from '../src/concurrency-errors';

/** A provider whose calls stay in flight until the test settles them. */
class HeldInvoker extends FakeInvoker {
  readonly held: Array<{ resolve: (r: Result) => void; reject: (e: unknown) => void; invocation: Invocation }> = [];
  constructor() {
    super('plexus://10.0.0.1:20880/demo.Greeter', {
      handler: (invocation) => new Promise<Result>((resolve, reject) => this.held.push({ resolve, reject, invocation })),
    });
  }
  finish(i = 0, value: unknown = 'ok'): void {
    this.held.splice(i, 1)[0].resolve({ value });
  }
  fail(i = 0): void {
    this.held.splice(i, 1)[0].reject(new RpcError('boom', RpcCode.SERVICE_ERROR));
  }
}

const tick = () => new Promise((r) => setImmediate(r));

function invocation(settings: MethodSettings, side: 'consumer' | 'provider', deadline = 0) {
  return new RpcInvocation({
    service: 'demo.Greeter',
    method: settings.method,
    args: [],
    attachments: {},
    settings,
    deadline,
    remoteAddress: side === 'provider' ? '127.0.0.1:5000' : undefined,
  });
}

filterContract('concurrency (no limits)', () => new ConcurrencyFilter(new MemoryLogger()), { interceptor: true });
filterContract('concurrency (actives above the suite)', () => new ConcurrencyFilter(new MemoryLogger()), {
  invocation: { settings: { params: { actives: '1000' } } },
});
filterContract('concurrency (executes above the suite)', () => new ConcurrencyFilter(new MemoryLogger()), {
  invocation: { settings: { params: { executes: '1000' } } },
  interceptor: true,
});

describe('executes (provider)', () => {
  it.each(['invoke', 'interceptor'])('refuses the third concurrent call with a retryable LIMIT_EXCEEDED, and admits again once one ends (%s)', async (form) => {
    const f = new ConcurrencyFilter(new MemoryLogger());
    // The interceptor is what the provider's dispatch runs; it must count exactly as invoke does.
    const filter = form === 'invoke' ? f : { invoke: (next: Invoker, inv: Invocation) => invokeIntercepted(f.interceptor, next, inv) };
    const settings = methodSettings({ params: { executes: '2' } });
    const node = new HeldInvoker();
    const first = filter.invoke(node, invocation(settings, 'provider'));
    const second = filter.invoke(node, invocation(settings, 'provider'));
    const third = (await rejectionOf(filter.invoke(node, invocation(settings, 'provider')))) as RpcError;
    expect(RpcError.is(third)).toBe(true);
    expect(third).toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: EXECUTES_REASON, retryable: true });
    expect(third.message).toMatch(/already runs 2 calls[\s\S]*hint:/);
    expect(node.calls).toBe(2);
    node.finish();
    await first;
    const fourth = filter.invoke(node, invocation(settings, 'provider'));
    expect(node.calls).toBe(3);
    node.fail();
    await expect(second).rejects.toMatchObject({ message: 'boom' });
    // A failed call frees its slot too.
    const fifth = filter.invoke(node, invocation(settings, 'provider'));
    expect(node.calls).toBe(4);
    node.finish();
    node.finish();
    await Promise.all([fourth, fifth]);
  });

  it("does not count the kernel's $echo", async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const node = new HeldInvoker();
    const echo = methodSettings({ method: '$echo', params: { executes: '1' } });
    const calls = [1, 2].map(() => filter.invoke(node, invocation(echo, 'provider')));
    expect(node.calls).toBe(2);
    node.finish();
    node.finish();
    await Promise.all(calls);
  });

  it('counts per method', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const a = methodSettings({ method: 'a', params: { executes: '1' } });
    const b = methodSettings({ method: 'b', params: { executes: '1' } });
    const node = new HeldInvoker();
    const running = [filter.invoke(node, invocation(a, 'provider')), filter.invoke(node, invocation(b, 'provider'))];
    expect(node.calls).toBe(2);
    await expect(filter.invoke(node, invocation(a, 'provider'))).rejects.toMatchObject({ reason: EXECUTES_REASON });
    node.finish();
    node.finish();
    await Promise.all(running);
  });

  it('is not applied on the consumer side, where actives is the key', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const settings = methodSettings({ params: { executes: '1' } });
    const node = new HeldInvoker();
    const calls = [1, 2, 3].map(() => filter.invoke(node, invocation(settings, 'consumer')));
    expect(node.calls).toBe(3);
    for (let i = 0; i < 3; i++) node.finish();
    await Promise.all(calls);
  });
});

describe('actives (consumer)', () => {
  it('a call beyond the limit waits for a slot, first come first served', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const settings = methodSettings({ params: { actives: '1' } });
    const node = new HeldInvoker();
    const order: number[] = [];
    const calls = [1, 2, 3].map((n) => filter.invoke(node, invocation(settings, 'consumer', Date.now() + 5000)).then(() => order.push(n)));
    expect(node.calls).toBe(1);
    node.finish();
    await tick();
    expect(node.calls).toBe(2);
    node.finish();
    await tick();
    expect(node.calls).toBe(3);
    node.finish();
    await Promise.all(calls);
    expect(order).toEqual([1, 2, 3]);
  });

  it('gives up at the deadline with a non-retryable LIMIT_EXCEEDED and never calls next', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const settings = methodSettings({ params: { actives: '1' } });
    const node = new HeldInvoker();
    const running = filter.invoke(node, invocation(settings, 'consumer'));
    const started = Date.now();
    const err = (await rejectionOf(filter.invoke(node, invocation(settings, 'consumer', Date.now() + 80)))) as RpcError;
    const waited = Date.now() - started;
    expect(err).toMatchObject({ code: RpcCode.LIMIT_EXCEEDED, reason: ACTIVES_REASON, retryable: false });
    expect(err.message).toMatch(/no free slot of actives: 1 for demo\.Greeter\.sayHello within \d+ ms[\s\S]*hint:/);
    expect(waited).toBeGreaterThanOrEqual(60);
    expect(waited).toBeLessThan(1000);
    expect(node.calls).toBe(1);
    // The slot freed later goes to nobody: the one that gave up left the line.
    node.finish();
    await running;
    await tick();
    expect(node.calls).toBe(1);
  });

  it('a call whose deadline has already passed is refused at once', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const settings = methodSettings({ params: { actives: '1' } });
    const node = new HeldInvoker();
    const running = filter.invoke(node, invocation(settings, 'consumer'));
    await expect(filter.invoke(node, invocation(settings, 'consumer', Date.now() - 1))).rejects.toMatchObject({ reason: ACTIVES_REASON });
    node.finish();
    await running;
  });

  it('a waiting call that is cancelled leaves the line with the cancel reason', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const settings = methodSettings({ params: { actives: '1' } });
    const node = new HeldInvoker();
    const running = filter.invoke(node, invocation(settings, 'consumer'));
    const waiting = invocation(settings, 'consumer');
    const call = filter.invoke(node, waiting);
    const reason = new RpcError('caller gave up', RpcCode.CANCELLED);
    waiting.cancel(reason);
    await expect(call).rejects.toBe(reason);
    const next = filter.invoke(node, invocation(settings, 'consumer'));
    node.finish();
    await running;
    await tick();
    expect(node.calls).toBe(2);
    node.finish();
    await next;
  });

  it('without a deadline a call waits as long as it takes', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const settings = methodSettings({ params: { actives: '2' } });
    const node = new HeldInvoker();
    const calls = [1, 2, 3].map(() => filter.invoke(node, invocation(settings, 'consumer')));
    await new Promise((r) => setTimeout(r, 50));
    expect(node.calls).toBe(2);
    node.finish();
    await tick();
    expect(node.calls).toBe(3);
    node.finish();
    node.finish();
    await Promise.all(calls);
  });

  it('a waiting call does not let a newcomer jump the line', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const settings = methodSettings({ params: { actives: '1' } });
    const node = new HeldInvoker();
    const first = filter.invoke(node, invocation(settings, 'consumer'));
    const second = invocation(settings, 'consumer');
    const secondCall = filter.invoke(node, second);
    node.finish();
    // A call made while `second` waits queues behind it, although a slot is about to free.
    const third = invocation(settings, 'consumer');
    const thirdCall = filter.invoke(node, third);
    await first;
    expect(node.held.map((h) => h.invocation)).toEqual([second]);
    node.finish();
    await secondCall;
    await tick();
    expect(node.held.map((h) => h.invocation)).toEqual([third]);
    node.finish();
    await thirdCall;
  });
});

describe('concurrency config', () => {
  it.each([['-1'], ['2.5'], ['many']])('an unusable value %s refuses calls with PLEXUS_ERR_CONCURRENCY_CONFIG, logged once', async (value) => {
    const logger = new MemoryLogger();
    const filter = new ConcurrencyFilter(logger);
    const settings = methodSettings({ params: { executes: value } });
    const node = new HeldInvoker();
    for (let i = 0; i < 3; i++) {
      await expect(filter.invoke(node, invocation(settings, 'provider'))).rejects.toMatchObject({
        code: RpcCode.SERVER_ERROR,
        reason: 'PLEXUS_ERR_CONCURRENCY_CONFIG',
      });
    }
    expect(node.calls).toBe(0);
    expect(logger.entries.map((e) => e.fields?.code)).toEqual(['PLEXUS_ERR_CONCURRENCY_CONFIG']);
  });

  it('0 means no limit', async () => {
    const filter = new ConcurrencyFilter(new MemoryLogger());
    const settings = methodSettings({ params: { executes: '0' } });
    const node = new HeldInvoker();
    const calls = Array.from({ length: 20 }, () => filter.invoke(node, invocation(settings, 'provider')));
    expect(node.calls).toBe(20);
    while (node.held.length) node.finish();
    await Promise.all(calls);
  });

  it('declares the actives and executes keys', () => {
    expect(plugin.extensions[0].keys).toEqual(['actives', 'executes']);
  });
});

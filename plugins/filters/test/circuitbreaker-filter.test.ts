import { NodeAvailability, RpcCode, RpcError, RpcInvocation, type MethodSettings } from '@plexus/kernel/spi';
import { FakeInvoker, MemoryLogger, fakeExtensionContext, filterContract, methodSettings, rejectionOf } from '@plexus/kernel/testing';
import plugin, { CIRCUIT_DEFAULTS, CircuitBreakerFilter, parseCircuitPolicy } from '../src/circuitbreaker-filter';

const ADDRESS = '10.0.0.1:20880';
/** A call of demo.Greeter.sayHello sharing `settings` (the filter decides once per settings object, as the kernel shares them per method). */
const invocationOf = (settings: MethodSettings) =>
  new RpcInvocation({ service: 'demo.Greeter', method: 'sayHello', args: ['ada'], attachments: {}, settings });
const timeout = () => new RpcError('deadline passed', RpcCode.TIMEOUT);

/** A provider whose answer the test switches: ok, timeout, business error, or a delay in ms of a fake clock. */
function node(address = ADDRESS) {
  const state = { mode: 'ok' as 'ok' | 'timeout' | 'business' | 'cancel' | 'limit' };
  const invoker = new FakeInvoker(`plexus://${address}/demo.Greeter`, {
    handler: () => {
      if (state.mode === 'timeout') throw timeout();
      if (state.mode === 'business') throw new RpcError('no stock', RpcCode.SERVICE_ERROR);
      if (state.mode === 'cancel') throw new RpcError('cancelled', RpcCode.CANCELLED);
      if (state.mode === 'limit') throw new RpcError('tps', RpcCode.LIMIT_EXCEEDED);
      return { value: address };
    },
  });
  return { state, invoker };
}

function setup(cb: Record<string, number> | true, nowStart = 1_000_000) {
  const clock = { now: nowStart };
  const logger = new MemoryLogger();
  const availability = new NodeAvailability();
  const filter = new CircuitBreakerFilter(availability, logger, { now: () => clock.now });
  const settings = methodSettings({ params: { circuitbreaker: cb === true ? 'true' : JSON.stringify(cb) } });
  const call = (inv: FakeInvoker): Promise<unknown> => filter.invoke(inv, invocationOf(settings));
  return { clock, logger, availability, filter, settings, call };
}

async function settle(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'ok',
    (e: RpcError) => e,
  );
}

filterContract('circuitbreaker', () => new CircuitBreakerFilter(new NodeAvailability(), new MemoryLogger()), {
  invocation: { settings: { params: { circuitbreaker: JSON.stringify({ minCalls: 1000 }) } } },
});

describe('circuitbreaker', () => {
  it('is inert for a method without the key: the call goes through and nothing is tracked', async () => {
    const filter = new CircuitBreakerFilter(new NodeAvailability(), new MemoryLogger());
    const { invoker, state } = node();
    state.mode = 'timeout';
    const settings = methodSettings();
    for (let i = 0; i < 30; i++) await settle(filter.invoke(invoker, invocationOf(settings)));
    expect(invoker.calls).toBe(30);
    expect(filter.stateOf(settings, ADDRESS)).toBeUndefined();
  });

  it('opens after minCalls when the failure rate reaches errorRate, fails fast with a coded retryable error and suspends the node for openMs', async () => {
    const t = setup({ minCalls: 4, errorRate: 50, openMs: 2000 });
    const { invoker, state } = node();
    await t.call(invoker);
    await t.call(invoker);
    state.mode = 'timeout';
    await settle(t.call(invoker));
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('closed'); // 1 of 3: below minCalls
    await settle(t.call(invoker)); // 2 of 4 = 50 %
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('open');
    const err = await rejectionOf(t.call(invoker));
    expect(err.code).toBe(RpcCode.LIMIT_EXCEEDED);
    expect(err.retryable).toBe(true);
    expect(err.reason).toBe('PLEXUS_ERR_CIRCUIT_OPEN');
    expect(err.message).toContain(ADDRESS);
    expect(invoker.calls).toBe(4); // the refused call never reached the node
    const s = t.availability.suspensionOf(ADDRESS)!;
    expect(s.holder).toContain('circuitbreaker');
    expect(s.until).toBeGreaterThan(Date.now() + 1500);
    expect(t.logger.entries.some((e) => e.level === 'warn' && e.message.startsWith('circuit open') && e.fields?.event === 'circuit:open')).toBe(true);
  });

  it('counts only node failures: business errors and cancels never open it', async () => {
    const t = setup({ minCalls: 2, errorRate: 4 });
    const { invoker, state } = node();
    state.mode = 'business';
    for (let i = 0; i < 20; i++) await settle(t.call(invoker));
    state.mode = 'cancel';
    for (let i = 0; i < 20; i++) await settle(t.call(invoker));
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('closed');
    state.mode = 'timeout';
    await settle(t.call(invoker));
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe("open"); // business errors count as answered calls: 1 of 21 ≥ 4 %
  });

  it('limit refusals are not counted at all: they neither open it nor dilute the failure rate', async () => {
    const t = setup({ minCalls: 4, errorRate: 50 });
    const { invoker, state } = node();
    state.mode = 'limit';
    for (let i = 0; i < 20; i++) await settle(t.call(invoker));
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('closed');
    state.mode = 'ok';
    for (let i = 0; i < 2; i++) await t.call(invoker);
    state.mode = 'timeout';
    for (let i = 0; i < 2; i++) await settle(t.call(invoker)); // 2 of 4 counted calls
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('open');
  });

  it('with slowCallMs set, a slow half-open probe re-opens it', async () => {
    const t = setup({ minCalls: 1, openMs: 100, slowCallMs: 50 });
    let delay = 0;
    const inv = new FakeInvoker(`plexus://${ADDRESS}/demo.Greeter`, {
      handler: () => {
        t.clock.now += delay;
        if (delay === 0) throw timeout();
        return { value: 1 };
      },
    });
    await settle(t.call(inv));
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('open');
    t.clock.now += 100;
    delay = 80; // answers, slowly
    await t.call(inv);
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('open');
  });

  it('stays closed below errorRate', async () => {
    const t = setup({ minCalls: 10, errorRate: 60 });
    const { invoker, state } = node();
    for (let i = 0; i < 20; i++) {
      state.mode = i % 2 === 0 ? 'timeout' : 'ok';
      await settle(t.call(invoker));
    }
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('closed');
  });

  it('after openMs lets `probes` calls through; their success closes it and restores the node', async () => {
    const t = setup({ minCalls: 2, openMs: 1000, probes: 2 });
    const { invoker, state } = node();
    state.mode = 'timeout';
    await settle(t.call(invoker));
    await settle(t.call(invoker));
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('open');
    t.clock.now += 999;
    expect((await rejectionOf(t.call(invoker))).reason).toBe('PLEXUS_ERR_CIRCUIT_OPEN');
    t.clock.now += 1;
    state.mode = 'ok';
    // Two probes in flight at once; a third concurrent call is refused.
    const p1 = t.call(invoker);
    const p2 = t.call(invoker);
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('half-open');
    const p3 = t.call(invoker);
    await Promise.all([p1, p2]);
    expect((await rejectionOf(p3)).reason).toBe('PLEXUS_ERR_CIRCUIT_OPEN');
    expect(invoker.calls).toBe(4);
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('closed');
    expect(t.availability.suspensionOf(ADDRESS)).toBeUndefined();
    expect(t.logger.entries.some((e) => e.message.startsWith('circuit closed') && e.fields?.event === 'circuit:close')).toBe(true);
    await t.call(invoker);
  });

  it('a failed probe re-opens it for another openMs', async () => {
    const t = setup({ minCalls: 1, openMs: 500 });
    const { invoker, state } = node();
    state.mode = 'timeout';
    await settle(t.call(invoker));
    t.clock.now += 500;
    await settle(t.call(invoker)); // the probe times out
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('open');
    t.clock.now += 499;
    const before = invoker.calls;
    expect((await rejectionOf(t.call(invoker))).code).toBe(RpcCode.LIMIT_EXCEEDED);
    expect(invoker.calls).toBe(before);
  });

  it('slow calls open it when slowCallMs is set and the slow share reaches slowRate', async () => {
    const t = setup({ minCalls: 4, slowCallMs: 100, slowRate: 75 });
    const slowNode = new FakeInvoker(`plexus://${ADDRESS}/demo.Greeter`, {
      handler: () => {
        t.clock.now += 150;
        return { value: 1 };
      },
    });
    for (let i = 0; i < 3; i++) await t.call(slowNode);
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('closed');
    await t.call(slowNode);
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('open');
  });

  it('slow calls are not tracked without slowCallMs', async () => {
    const t = setup({ minCalls: 2 });
    const slowNode = new FakeInvoker(`plexus://${ADDRESS}/demo.Greeter`, {
      handler: () => {
        t.clock.now += 60_000;
        return { value: 1 };
      },
    });
    for (let i = 0; i < 5; i++) await t.call(slowNode);
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('closed');
  });

  it('forgets failures older than the window (rolling buckets)', async () => {
    const t = setup({ minCalls: 4, errorRate: 50, window: 1000 });
    const { invoker, state } = node();
    state.mode = 'timeout';
    for (let i = 0; i < 3; i++) await settle(t.call(invoker));
    t.clock.now += 1100; // the three failures leave the window
    state.mode = 'ok';
    for (let i = 0; i < 3; i++) await t.call(invoker);
    state.mode = 'timeout';
    await settle(t.call(invoker)); // 1 of 4 in the window
    expect(t.filter.stateOf(t.settings, ADDRESS)).toBe('closed');
  });

  it('keeps one breaker per node: a failing node opens, its neighbour stays closed', async () => {
    const t = setup({ minCalls: 2 });
    const bad = node('10.0.0.1:1');
    const good = node('10.0.0.2:1');
    bad.state.mode = 'timeout';
    for (let i = 0; i < 3; i++) {
      await settle(t.call(bad.invoker));
      await t.call(good.invoker);
    }
    expect(t.filter.stateOf(t.settings, '10.0.0.1:1')).toBe('open');
    expect(t.filter.stateOf(t.settings, '10.0.0.2:1')).toBe('closed');
    expect(t.availability.suspensionOf('10.0.0.2:1')).toBeUndefined();
  });

  it('circuitbreaker: true uses the documented defaults', () => {
    expect(parseCircuitPolicy('true', 'x')).toEqual(CIRCUIT_DEFAULTS);
    expect(parseCircuitPolicy('false', 'x')).toBeUndefined();
    expect(parseCircuitPolicy(undefined, 'x')).toBeUndefined();
  });

  it.each([
    ['{"errorRate":0.5}', 'percentage'],
    ['{"errorRat":50}', 'unknown option "errorRat"'],
    ['{"openMs":"5s"}', 'openMs must be a number'],
    ['{"minCalls":0}', 'minCalls must be at least 1'],
    ['[1]', 'not true, false or an object'],
    ['maybe', 'not true, false or an object'],
  ])('refuses %s with PLEXUS_ERR_CIRCUIT_CONFIG', (raw, text) => {
    expect(() => parseCircuitPolicy(raw, 'demo.Greeter.sayHello')).toThrow(text);
    try {
      parseCircuitPolicy(raw, 'demo.Greeter.sayHello');
    } catch (e) {
      expect((e as { code: string }).code).toBe('PLEXUS_ERR_CIRCUIT_CONFIG');
    }
  });

  it('a malformed value fails every call of the method with the coded error, logged once', async () => {
    const logger = new MemoryLogger();
    const filter = new CircuitBreakerFilter(new NodeAvailability(), logger);
    const settings = methodSettings({ params: { circuitbreaker: '{"errorRate":500}' } });
    const { invoker } = node();
    for (let i = 0; i < 3; i++) {
      const err = await rejectionOf(filter.invoke(invoker, invocationOf(settings)));
      expect(err.reason).toBe('PLEXUS_ERR_CIRCUIT_CONFIG');
    }
    expect(invoker.calls).toBe(0);
    expect(logger.entries.filter((e) => e.level === 'error')).toHaveLength(1);
  });

  it('the plugin declares the key, the consumer invoker stage, and takes NodeAvailability by token', () => {
    const def = plugin.extensions[0];
    expect(def.keys).toEqual(['circuitbreaker']);
    expect(def.activate).toMatchObject({ side: ['consumer'], stage: 'invoker' });
    const availability = new NodeAvailability();
    const f = def.create(fakeExtensionContext({}, { values: new Map([[Symbol.for('plexus.nodeAvailability'), availability]]) }));
    expect(f).toBeInstanceOf(CircuitBreakerFilter);
  });
});

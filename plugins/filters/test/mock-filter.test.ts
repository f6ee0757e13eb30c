import { RpcCode, RpcError, RpcInvocation, type FallbackHolder, type MethodSettings } from '@plexus/kernel/spi';
import { FakeInvoker, MemoryLogger, fakeExtensionContext, filterContract, methodSettings, rejectionOf } from '@plexus/kernel/testing';
import plugin, { MockFilter, parseMock } from '../src/mock-filter';

const invocationOf = (settings: MethodSettings, deadline?: number) =>
  new RpcInvocation({ service: 'demo.Greeter', method: 'sayHello', args: ['ada'], attachments: {}, settings, deadline });

const failing = (err: unknown) => new FakeInvoker('plexus://10.0.0.1:1/demo.Greeter', { error: err });
const answering = (value: unknown) => new FakeInvoker('plexus://10.0.0.1:1/demo.Greeter', { value });
const network = () => new RpcError('connection reset', RpcCode.NETWORK);
const business = () => new RpcError('no stock', RpcCode.SERVICE_ERROR);

function withMock(mock: string, holder?: FallbackHolder) {
  const filter = new MockFilter(new MemoryLogger(), holder);
  const settings = methodSettings({ params: { mock } });
  return { filter, settings, call: (inv: FakeInvoker) => filter.invoke(inv, invocationOf(settings)) };
}

filterContract('mock (no mock configured)', () => new MockFilter(new MemoryLogger()));
filterContract('mock (return on failure)', () => new MockFilter(new MemoryLogger()), {
  invocation: { settings: { params: { mock: 'return 1' } } },
  convertsErrors: true,
});

describe('mock', () => {
  it('return <json> answers a non-business failure with the value', async () => {
    const t = withMock('return {"name":"n/a","n":[1,2]}');
    await expect(t.call(failing(network()))).resolves.toEqual({ value: { name: 'n/a', n: [1, 2] } });
    await expect(t.call(failing(new RpcError('late', RpcCode.TIMEOUT)))).resolves.toEqual({ value: { name: 'n/a', n: [1, 2] } });
  });

  it('never answers for the built-in $echo (check and probes must see the real provider)', async () => {
    const filter = new MockFilter(new MemoryLogger(), { fallback: () => 'fallback' });
    const settings = methodSettings({ method: '$echo', params: { mock: 'force:return 1' } });
    const inv = new RpcInvocation({ service: 'demo.Greeter', method: '$echo', args: ['x'], attachments: {}, settings });
    expect((await rejectionOf(filter.invoke(failing(network()), inv))).code).toBe(RpcCode.NETWORK);
  });

  it('a successful call keeps its own value and the provider is called', async () => {
    const t = withMock('return 0');
    const node = answering(42);
    await expect(t.call(node)).resolves.toEqual({ value: 42 });
    expect(node.calls).toBe(1);
  });

  it('business errors pass through unless the mock says any:', async () => {
    const plain = withMock('return 0');
    expect((await rejectionOf(plain.call(failing(business())))).message).toBe('no stock');
    const any = withMock('any:return 0');
    await expect(any.call(failing(business()))).resolves.toEqual({ value: 0 });
  });

  it("the caller's own cancel is never mocked", async () => {
    const t = withMock('return 0');
    expect((await rejectionOf(t.call(failing(new RpcError('aborted', RpcCode.CANCELLED))))).code).toBe(RpcCode.CANCELLED);
  });

  it('throw <message> fails with that message as a business error with a reason', async () => {
    const t = withMock('throw service unavailable, try later');
    const err = await rejectionOf(t.call(failing(network())));
    expect(err.message).toBe('service unavailable, try later');
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
    expect(err.reason).toBe('PLEXUS_ERR_MOCK_THROW');
    expect(err.retryable).toBe(false);
  });

  it('force: never calls the provider', async () => {
    const t = withMock('force:return "cached"');
    const node = answering('live');
    await expect(t.call(node)).resolves.toEqual({ value: 'cached' });
    const thrower = withMock('force:throw down for maintenance');
    expect((await rejectionOf(thrower.call(node))).message).toBe('down for maintenance');
    expect(node.calls).toBe(0);
  });

  it('answers through invocation.recover when the deadline cancels the call with TIMEOUT, and runs no fallback twice', async () => {
    const seen: string[] = [];
    const filter = new MockFilter(new MemoryLogger(), { fallback: (_inv, err) => (seen.push(err.code), 'fallback') });
    const inv = invocationOf(methodSettings(), Date.now() + 60_000);
    // The provider rejects with the cancel reason once cancelled, as a protocol does.
    const hanging = new FakeInvoker('plexus://10.0.0.1:1/demo.Greeter', {
      handler: (i) => new Promise((_, reject) => i.addCancelListener({ onCancel: reject })),
    });
    const running = filter.invoke(hanging, inv);
    expect(inv.recovered).toBeUndefined();
    // What the kernel's deadline does: cancel with TIMEOUT, then read what a listener recovered.
    inv.cancel(new RpcError('timed out', RpcCode.TIMEOUT));
    expect(inv.recovered).toEqual({ value: 'fallback' });
    await expect(running).resolves.toEqual({ value: 'fallback' });
    expect(seen).toEqual([RpcCode.TIMEOUT]);
  });

  it('recovers a return mock with its value and a throw mock with a promise that rejects as before the deadline', async () => {
    const ret = withMock('return "n/a"');
    const inv = invocationOf(ret.settings, Date.now() + 60_000);
    void ret.filter.invoke(answering('late'), inv).catch(() => undefined);
    inv.cancel(new RpcError('timed out', RpcCode.TIMEOUT));
    expect(inv.recovered).toEqual({ value: 'n/a' });

    const thrown = withMock('throw try later');
    const inv2 = invocationOf(thrown.settings, Date.now() + 60_000);
    void thrown.filter.invoke(answering('late'), inv2).catch(() => undefined);
    inv2.cancel(new RpcError('timed out', RpcCode.TIMEOUT));
    const err = await rejectionOf(inv2.recovered!.value as Promise<unknown>);
    expect([err.message, err.code, err.reason]).toEqual(['try later', RpcCode.SERVICE_ERROR, 'PLEXUS_ERR_MOCK_THROW']);
  });

  it('does not recover a cancel that is not the deadline, a fallback that throws at once, or a call an inner layer answered', async () => {
    const t = withMock('return 1');
    const aborted = invocationOf(t.settings, Date.now() + 60_000);
    void t.filter.invoke(answering(0), aborted).catch(() => undefined);
    aborted.cancel(new RpcError('aborted', RpcCode.CANCELLED));
    expect(aborted.recovered).toBeUndefined();

    const logger = new MemoryLogger();
    const broken = new MockFilter(logger, {
      fallback: () => {
        throw new Error('fallback broke');
      },
    });
    const inv = invocationOf(methodSettings(), Date.now() + 60_000);
    void broken.invoke(answering(0), inv).catch(() => undefined);
    inv.cancel(new RpcError('timed out', RpcCode.TIMEOUT, { reason: 'PLEXUS_ERR_CALL_TIMEOUT' }));
    expect(inv.recovered).toBeUndefined();
    expect(logger.entries.find((e) => e.level === 'warn')).toMatchObject({ fields: { code: 'PLEXUS_ERR_CALL_TIMEOUT' } });
    expect(logger.entries[0].message).toContain('fallback broke');

    let called = 0;
    const inner = new MockFilter(new MemoryLogger(), { fallback: () => ++called });
    const inv3 = invocationOf(methodSettings(), Date.now() + 60_000);
    // An inner layer (the cluster policy) registered first and answers the deadline itself.
    const policy = new FakeInvoker('plexus://10.0.0.1:1/demo.Greeter', {
      handler: (i) =>
        new Promise((_, reject) =>
          i.addCancelListener({
            onCancel: (r) => {
              i.recover({ value: 'from the policy' });
              reject(r);
            },
          }),
        ),
    });
    const running = inner.invoke(policy, inv3);
    inv3.cancel(new RpcError('timed out', RpcCode.TIMEOUT));
    expect(inv3.recovered).toEqual({ value: 'from the policy' });
    await expect(running).resolves.toEqual({ value: 'from the policy' });
    expect(called).toBe(0);
  });

  it('a code fallback gets the invocation and the error; a mock in config wins over it', async () => {
    const seen: string[] = [];
    const holder: FallbackHolder = {
      fallback: (inv, err) => {
        seen.push(`${inv.method}:${err.code}`);
        return `fallback for ${inv.args[0]}`;
      },
    };
    const filter = new MockFilter(new MemoryLogger(), holder);
    const plain = methodSettings();
    await expect(filter.invoke(failing(network()), invocationOf(plain))).resolves.toEqual({ value: 'fallback for ada' });
    expect(seen).toEqual(['sayHello:NETWORK']);
    // Business errors pass the fallback by.
    expect((await rejectionOf(filter.invoke(failing(business()), invocationOf(plain)))).code).toBe(RpcCode.SERVICE_ERROR);
    const mocked = methodSettings({ params: { mock: 'return 7' } });
    await expect(filter.invoke(failing(network()), invocationOf(mocked))).resolves.toEqual({ value: 7 });
    expect(seen).toHaveLength(1);
  });

  it('a fallback given after the first calls is used from then on; async and throwing fallbacks', async () => {
    const holder: FallbackHolder = { fallback: undefined };
    const filter = new MockFilter(new MemoryLogger(), holder);
    const s = methodSettings();
    expect((await rejectionOf(filter.invoke(failing(network()), invocationOf(s)))).code).toBe(RpcCode.NETWORK);
    holder.fallback = async () => 'later';
    await expect(filter.invoke(failing(network()), invocationOf(s))).resolves.toEqual({ value: 'later' });
    holder.fallback = () => {
      throw new Error('fallback broke');
    };
    const err = await rejectionOf(filter.invoke(failing(network()), invocationOf(s)));
    expect(err.message).toBe('fallback broke');
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
  });

  it.each([
    ['return', { when: 'failure', action: 'return', value: undefined }],
    ['return null', { when: 'failure', action: 'return', value: null }],
    ['  fail:return "x"', { when: 'failure', action: 'return', value: 'x' }],
    ['force: throw', { when: 'force', action: 'throw', value: 'mocked failure' }],
    ['any:throw nope', { when: 'any', action: 'throw', value: 'nope' }],
  ])('parses %j', (raw, spec) => {
    expect(parseMock(raw, 'x')).toEqual(spec);
  });

  it.each([
    ['return hello', 'not JSON'],
    ['true', 'must start with "return" or "throw"'],
    ['force:', 'must start with'],
    ['retrun 1', 'must start with'],
  ])('refuses %j with PLEXUS_ERR_MOCK_CONFIG', (raw, text) => {
    let caught: unknown;
    try {
      parseMock(raw, 'demo.Greeter.sayHello');
    } catch (e) {
      caught = e;
    }
    expect((caught as { code: string }).code).toBe('PLEXUS_ERR_MOCK_CONFIG');
    expect((caught as Error).message).toContain(text);
  });

  it('a malformed mock fails the start (filter creation) when it is in the config', () => {
    const def = plugin.extensions[0];
    const config = { consumer: {}, references: { greeter: { interface: 'demo.Greeter', methods: { sayHello: { mock: 'return oops' } } } } };
    const ctx = fakeExtensionContext({}, { values: new Map<symbol, unknown>([[Symbol.for('plexus.config'), config]]) });
    expect(() => def.create(ctx)).toThrow(/references\.greeter\.methods\.sayHello.*not JSON/s);
  });

  it('a malformed mock reaching a call (dynamic settings) fails each call with the coded error, logged once', async () => {
    const logger = new MemoryLogger();
    const filter = new MockFilter(logger);
    const s = methodSettings({ params: { mock: 'return {' } });
    const node = answering(1);
    for (let i = 0; i < 2; i++) expect((await rejectionOf(filter.invoke(node, invocationOf(s)))).reason).toBe('PLEXUS_ERR_MOCK_CONFIG');
    expect(node.calls).toBe(0);
    expect(logger.entries.filter((e) => e.level === 'error')).toHaveLength(1);
  });

  it('declares the key and the outermost consumer cluster stage', () => {
    const def = plugin.extensions[0];
    expect(def.keys).toEqual(['mock']);
    expect(def.activate).toMatchObject({ side: ['consumer'], stage: 'cluster' });
    expect(def.activate!.order).toBeLessThan(0);
  });
});

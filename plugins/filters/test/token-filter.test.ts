import { RpcCode, RpcError, RpcInvocation, type MethodSettings } from '@plexus/kernel/spi';
import { FakeInvoker, MemoryLogger, filterContract, methodSettings, rejectionOf } from '@plexus/kernel/testing';
import plugin, { TokenFilter } from '../src/token-filter';
import { TOKEN_MISMATCH_REASON, TOKEN_MISSING_REASON } from '../src/token-errors';

const SECRET = 's3cr3t-token-value';

function providerCall(filter: TokenFilter, settings: MethodSettings, attachments: Record<string, string>, remoteAddress = '127.0.0.1:5000') {
  const next = new FakeInvoker('plexus://127.0.0.1:20880/demo.Greeter', { value: 'served' });
  const inv = new RpcInvocation({ service: 'demo.Greeter', method: settings.method, args: [], attachments, settings, remoteAddress });
  return { next, result: filter.invoke(next, inv) };
}

function consumerCall(filter: TokenFilter, providerUrl: string, method = 'sayHello', attachments: Record<string, string> = {}) {
  const next = new FakeInvoker(providerUrl, { value: 'served' });
  const inv = new RpcInvocation({ service: 'demo.Greeter', method, args: [], attachments, settings: methodSettings({ method }) });
  return { next, inv, result: filter.invoke(next, inv) };
}

filterContract('token (no token configured)', () => new TokenFilter(new MemoryLogger()), { interceptor: true });

describe('token (provider)', () => {
  const settings = methodSettings({ params: { token: SECRET } });

  it('serves a call that carries the token', async () => {
    const { next, result } = providerCall(new TokenFilter(new MemoryLogger()), settings, { token: SECRET });
    await expect(result).resolves.toEqual({ value: 'served' });
    expect(next.calls).toBe(1);
  });

  it('refuses a call without the token: FORBIDDEN, not retryable, with a hint, and next is not called', async () => {
    const { next, result } = providerCall(new TokenFilter(new MemoryLogger()), settings, {});
    const err = (await rejectionOf(result)) as RpcError;
    expect(RpcError.is(err)).toBe(true);
    expect(err).toMatchObject({ code: RpcCode.FORBIDDEN, reason: TOKEN_MISSING_REASON, retryable: false });
    expect(err.message).toMatch(/token required[\s\S]*hint: call it through the registry/);
    expect(next.calls).toBe(0);
  });

  it.each([
    ['a wrong token', 'guess'],
    ['a longer token', `${SECRET}x`],
    ['a prefix of it', SECRET.slice(0, 5)],
    ['a huge token', 'x'.repeat(100_000)],
  ])('refuses %s with a mismatch that does not echo either token', async (_what, given) => {
    const { next, result } = providerCall(new TokenFilter(new MemoryLogger()), settings, { token: given });
    const err = (await rejectionOf(result)) as RpcError;
    expect(err).toMatchObject({ code: RpcCode.FORBIDDEN, reason: TOKEN_MISMATCH_REASON, retryable: false });
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain(given.slice(0, 50));
    expect(next.calls).toBe(0);
  });

  it('refuses an empty token and a token that is not a string', async () => {
    const filter = new TokenFilter(new MemoryLogger());
    await expect(providerCall(filter, settings, { token: '' }).result).rejects.toMatchObject({ reason: TOKEN_MISSING_REASON });
    await expect(providerCall(filter, settings, { token: 42 as unknown as string }).result).rejects.toMatchObject({ reason: TOKEN_MISSING_REASON });
  });

  it('trusts in-process (injvm) calls', async () => {
    const { next, result } = providerCall(new TokenFilter(new MemoryLogger()), settings, {}, 'injvm');
    await expect(result).resolves.toEqual({ value: 'served' });
    expect(next.calls).toBe(1);
  });

  it('checks each method against its own token', async () => {
    const filter = new TokenFilter(new MemoryLogger());
    const open = methodSettings({ method: 'open', params: {} });
    const own = methodSettings({ method: 'own', params: { token: 'method-token' } });
    await expect(providerCall(filter, open, {}).result).resolves.toEqual({ value: 'served' });
    await expect(providerCall(filter, own, { token: 'method-token' }).result).resolves.toEqual({ value: 'served' });
    await expect(providerCall(filter, own, { token: SECRET }).result).rejects.toMatchObject({ reason: TOKEN_MISMATCH_REASON });
  });

  it('token: false switches it off', async () => {
    const filter = new TokenFilter(new MemoryLogger());
    await expect(providerCall(filter, methodSettings({ params: { token: 'false' } }), {}).result).resolves.toEqual({ value: 'served' });
  });

  it('token: true with no generated token refuses calls with PLEXUS_ERR_TOKEN_NOT_GENERATED, logged once', async () => {
    const logger = new MemoryLogger();
    const filter = new TokenFilter(logger);
    const unset = methodSettings({ params: { token: 'true' } });
    for (let i = 0; i < 2; i++) {
      await expect(providerCall(filter, unset, { token: 'true' }).result).rejects.toMatchObject({
        code: RpcCode.SERVER_ERROR,
        reason: 'PLEXUS_ERR_TOKEN_NOT_GENERATED',
      });
    }
    expect(logger.entries.map((e) => e.fields?.code)).toEqual(['PLEXUS_ERR_TOKEN_NOT_GENERATED']);
  });

  it('never logs the token', async () => {
    const logger = new MemoryLogger();
    const filter = new TokenFilter(logger);
    await rejectionOf(providerCall(filter, settings, { token: 'wrong' }).result);
    await providerCall(filter, settings, { token: SECRET }).result;
    expect(JSON.stringify(logger.entries)).not.toContain(SECRET);
  });
});

describe('token (consumer)', () => {
  it("attaches the chosen provider's token from its URL", async () => {
    const filter = new TokenFilter(new MemoryLogger());
    const a = consumerCall(filter, `plexus://10.0.0.1:20880/demo.Greeter?token=${SECRET}`);
    await a.result;
    expect(a.next.invocations[0].attachments.token).toBe(SECRET);
    const b = consumerCall(filter, 'plexus://10.0.0.2:20880/demo.Greeter?token=other');
    await b.result;
    expect(b.next.invocations[0].attachments.token).toBe('other');
  });

  it("prefers a method's own token (<method>.token in the URL)", async () => {
    const filter = new TokenFilter(new MemoryLogger());
    const url = `plexus://10.0.0.1:20880/demo.Greeter?token=${SECRET}&sayBye.token=bye-token`;
    const bye = consumerCall(filter, url, 'sayBye');
    const hello = consumerCall(filter, url, 'sayHello');
    await Promise.all([bye.result, hello.result]);
    expect(bye.next.invocations[0].attachments.token).toBe('bye-token');
    expect(hello.next.invocations[0].attachments.token).toBe(SECRET);
  });

  it('a provider URL without a token (a direct url:) sends none, and leaves what the caller attached', async () => {
    const filter = new TokenFilter(new MemoryLogger());
    const bare = consumerCall(filter, 'plexus://10.0.0.1:20880/demo.Greeter');
    await bare.result;
    expect(bare.next.invocations[0].attachments.token).toBeUndefined();
    const switched = consumerCall(filter, 'plexus://10.0.0.1:20880/demo.Greeter?token=true');
    await switched.result;
    expect(switched.next.invocations[0].attachments.token).toBeUndefined();
    const own = consumerCall(filter, 'plexus://10.0.0.1:20880/demo.Greeter', 'sayHello', { token: 'from-caller' });
    await own.result;
    expect(own.next.invocations[0].attachments.token).toBe('from-caller');
  });

  it('joins both sides, the consumer at the invoker stage, and claims the token key', () => {
    expect(plugin.extensions[0]).toMatchObject({ keys: ['token'], activate: { side: ['consumer', 'provider'], stage: 'invoker' } });
  });
});

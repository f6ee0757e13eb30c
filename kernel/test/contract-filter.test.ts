import { RpcCode, RpcError } from '../src/errors/rpc-error';
import type { Filter } from '../src/spi/filter';
import type { Invocation } from '../src/spi/invocation';
import type { Invoker } from '../src/spi/invoker';
import type { Result } from '../src/spi/result';
import { fakeInvocation, fakeInvoker, filterContract } from '../src/testing';

/** Passes every call through. */
class PassThroughFilter implements Filter {
  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    return next.invoke(invocation);
  }
}

/** Refuses calls without a `token` attachment; answers `ping` itself. */
class TokenFilter implements Filter {
  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    if (invocation.attachments.token !== 'secret') return Promise.reject(new RpcError('no token', RpcCode.FORBIDDEN));
    if (invocation.method === 'ping') return Promise.resolve({ value: 'pong' });
    return next.invoke(invocation);
  }
}

/** Turns every failure into a fallback value, as a failsafe filter documents. */
class FallbackFilter implements Filter {
  async invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    try {
      return await next.invoke(invocation);
    } catch {
      return { value: null };
    }
  }
}

filterContract('pass-through (example)', () => new PassThroughFilter());
filterContract('token (example)', () => new TokenFilter(), { invocation: { attachments: { token: 'secret' } } });
filterContract('fallback (example)', () => new FallbackFilter(), { convertsErrors: true });

describe('the example filters', () => {
  it('short-cut as they say', async () => {
    const next = fakeInvoker();
    await expect(new TokenFilter().invoke(next, fakeInvocation())).rejects.toMatchObject({ code: RpcCode.FORBIDDEN });
    await expect(new TokenFilter().invoke(next, fakeInvocation({ method: 'ping', attachments: { token: 'secret' } }))).resolves.toEqual({ value: 'pong' });
    expect(next.calls).toBe(0);
  });
});

import { RpcCode, RpcError } from '../errors/rpc-error';
import { invokeIntercepted, type Filter } from '../spi/filter';
import type { Invocation } from '../spi/invocation';
import type { Result } from '../spi/result';
import { fakeInvocation, FakeInvoker, type FakeInvocationInit } from './fakes';
import { rejectionOf } from './wait-for';

/** Switches for filters that answer some calls themselves. */
export interface FilterContractOptions {
  /**
   * What the suite's calls look like besides their arguments (which it sets to a unique `[n]`, so a
   * caching filter never answers from its cache): attachments a token filter wants, a service or
   * method an allow-list lets through. Default: `demo.Greeter.sayHello` with no attachments. The
   * filter must let these calls through to `next`.
   */
  invocation?: Omit<FakeInvocationInit, 'args'>;
  /**
   * The filter documents that it turns rejections into something else (a fallback value, a mock,
   * another code): the checks that errors pass through unchanged are left out; a call must still
   * settle. Default false.
   */
  convertsErrors?: boolean;
  /**
   * The filter may answer a call without calling `next` even for the calls above (e.g. a mock
   * forced on): `next` must then be called at most once instead of exactly once. Default false.
   */
  shortCuts?: boolean;
  /**
   * The filter offers an interceptor (`Filter.interceptor`): the suite runs a second time through
   * it, as the provider's dispatch runs it, on provider-side calls. Default false.
   */
  interceptor?: boolean;
}

/**
 * The behaviour every {@link Filter} shares, as a jest suite: `next` is called at most once per call
 * (exactly once unless `shortCuts`), its result comes back unchanged, its rejections propagate as
 * `RpcError`s with their code, message and retryable flag (unless `convertsErrors`), `invoke` never
 * throws synchronously, and one instance serves 100 overlapping calls that each keep their own
 * outcome. Call it at the top level of a test file: `filterContract('token', () => new TokenFilter(ctx),
 * { invocation: { attachments: { token: 'secret' } } })`. `create` runs once per test.
 */
export function filterContract(name: string, create: () => Filter | Promise<Filter>, options: FilterContractOptions = {}): void {
  const converts = options.convertsErrors ?? false;
  const shortCuts = options.shortCuts ?? false;
  let n = 0;
  const invocation = (): Invocation => {
    const init = options.invocation ?? {};
    return fakeInvocation({ ...init, attachments: { ...init.attachments }, args: [++n] });
  };

  function expectNextCalls(next: FakeInvoker, calls: number): void {
    if (shortCuts) expect(next.calls).toBeLessThanOrEqual(calls);
    else expect(next.calls).toBe(calls);
  }

  describe(`filter contract: ${name}`, () => {
    it('calls next once and passes its result through unchanged', async () => {
      const filter = await create();
      const value = { greeting: 'hello ada', list: [1, 2, 3] };
      const answer: Result = { value, attachments: { served: 'yes' } };
      const next = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { handler: () => answer });
      const inv = invocation();
      const result = await filter.invoke(next, inv);
      expectNextCalls(next, 1);
      if (next.calls === 0) return;
      expect(result.value).toBe(value);
      expect(result.value).toEqual({ greeting: 'hello ada', list: [1, 2, 3] });
      expect(result.attachments?.served).toBe('yes');
      const passed = next.invocations[0];
      expect([passed.service, passed.method, passed.args[0]]).toEqual([inv.service, inv.method, inv.args[0]]);
    });

    it('passes rejections of next through as RpcErrors with their code, message and retryable flag', async () => {
      const filter = await create();
      const errors = [
        new RpcError('name must not be empty', RpcCode.SERVICE_ERROR),
        new RpcError('connection reset by 10.0.0.1:20880', RpcCode.NETWORK),
        new RpcError('no answer within 500 ms', RpcCode.TIMEOUT),
        new RpcError('too many calls', RpcCode.LIMIT_EXCEEDED, { retryable: true }),
      ];
      for (const error of errors) {
        const next = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { error });
        const outcome = await rejectionOf(filter.invoke(next, invocation()));
        expect(next.calls).toBeLessThanOrEqual(1);
        if (converts) {
          if (outcome !== undefined) expect(RpcError.is(outcome)).toBe(true);
          continue;
        }
        expectNextCalls(next, 1);
        if (next.calls === 0) continue;
        expect(RpcError.is(outcome)).toBe(true);
        const err = outcome as RpcError;
        expect(err.code).toBe(error.code);
        expect(err.message).toContain(error.message);
        expect(err.retryable).toBe(error.retryable);
      }
    });

    it('returns a promise and never throws, even when next rejects at once', async () => {
      const filter = await create();
      const next = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { error: new RpcError('down', RpcCode.NETWORK) });
      let call: Promise<Result> | undefined;
      expect(() => {
        call = filter.invoke(next, invocation());
      }).not.toThrow();
      expect(typeof call?.then).toBe('function');
      const outcome = await rejectionOf(call as Promise<Result>);
      if (!converts) expect(RpcError.is(outcome)).toBe(true);
    });

    it('serves 100 overlapping calls through one instance, each with its own outcome', async () => {
      const filter = await create();
      const fails = (i: number) => !converts && i % 5 === 0;
      const next = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', {
        handler: async (inv) => {
          const i = inv.args[0] as number;
          // Answers arrive in another order than the calls went out.
          await new Promise((resolve) => setTimeout(resolve, (i * 7) % 11));
          if (fails(i)) throw new RpcError(`failure ${i}`, RpcCode.SERVICE_ERROR);
          return { value: { i } };
        },
      });
      const calls = Array.from({ length: 100 }, () => invocation());
      const outcomes = await Promise.allSettled(calls.map((inv) => filter.invoke(next, inv)));
      expectNextCalls(next, 100);
      outcomes.forEach((outcome, k) => {
        const i = calls[k].args[0] as number;
        const reached = next.invocations.some((inv) => inv.args[0] === i);
        if (!shortCuts) expect(reached).toBe(true);
        if (!reached) return;
        if (fails(i)) {
          expect(outcome.status).toBe('rejected');
          const reason = (outcome as PromiseRejectedResult).reason as RpcError;
          expect(RpcError.is(reason)).toBe(true);
          expect(reason.message).toContain(`failure ${i}`);
        } else {
          expect(outcome.status).toBe('fulfilled');
          expect((outcome as PromiseFulfilledResult<Result>).value.value).toEqual({ i });
        }
      });
    });
  });

  if (options.interceptor) {
    filterContract(
      `${name}, through its interceptor`,
      async () => {
        const filter = await create();
        const interceptor = filter.interceptor;
        if (interceptor === undefined) throw new Error(`filter ${name} has no interceptor, but its contract says it has`);
        return { invoke: (next, inv) => invokeIntercepted(interceptor, next, inv) };
      },
      {
        ...options,
        interceptor: false,
        invocation: { remoteAddress: '10.0.0.9:40000', ...options.invocation },
      },
    );
  }
}

import {
  CONFIG,
  REFERENCE_FALLBACK,
  RpcCode,
  RpcError,
  defineError,
  definePlugin,
  type ExtensionContext,
  type Fallback,
  type FallbackHolder,
  type Filter,
  type Invocation,
  type Invoker,
  type Logger,
  type MethodSettings,
  type Result,
} from '@plexus/kernel/spi';

/** A `mock` value that cannot be used. */
export const MockConfigError = defineError(
  'PLEXUS_ERR_MOCK_CONFIG',
  (where: string, value: string, problem: string) => `mock of ${where} is ${JSON.stringify(value.slice(0, 120))}: ${problem}`,
  'Write mock: "return <json>" (strings in quotes: return "n/a"), "throw <message>", optionally prefixed "force:" (never call the provider) or "any:" (business errors too).',
);

/** The built-in method a consumer's `check` and probes call. */
const ECHO = '$echo';

/** The `reason` of the error a `throw` mock fails a call with. */
export const MOCK_THROW_REASON = 'PLEXUS_ERR_MOCK_THROW';

/** When a mock applies. */
export type MockWhen = 'failure' | 'any' | 'force';

/** A parsed `mock` value. */
export interface MockSpec {
  readonly when: MockWhen;
  readonly action: 'return' | 'throw';
  /** `return`: the value; `throw`: the message. */
  readonly value: unknown;
}

/**
 * Parses `mock`: `[force:|any:]return [<json>]` or `[force:|any:]throw [<message>]`. Throws
 * `PLEXUS_ERR_MOCK_CONFIG`. `return` alone returns `undefined`.
 */
export function parseMock(raw: string, where: string): MockSpec {
  let rest = raw.trim();
  let when: MockWhen = 'failure';
  const prefix = /^(force|any|fail):\s*/.exec(rest);
  if (prefix) {
    when = prefix[1] === 'fail' ? 'failure' : (prefix[1] as MockWhen);
    rest = rest.slice(prefix[0].length);
  }
  const m = /^(return|throw)(?:\s+([\s\S]*))?$/.exec(rest);
  if (!m) throw MockConfigError(where, raw, 'it must start with "return" or "throw" (after an optional "force:" or "any:")');
  const body = (m[2] ?? '').trim();
  if (m[1] === 'throw') return Object.freeze({ when, action: 'throw', value: body || 'mocked failure' });
  if (body === '') return Object.freeze({ when, action: 'return', value: undefined });
  try {
    return Object.freeze({ when, action: 'return', value: JSON.parse(body) as unknown });
  } catch {
    throw MockConfigError(where, raw, `what follows "return" is not JSON (a string needs quotes: return ${JSON.stringify(body)})`);
  }
}

/**
 * Mock and fallback (consumer, outermost of the cluster stage, so it sees the outcome after
 * retries; Dubbo's MockClusterInvoker). For a method with `mock` set, or a reference given a
 * `fallback` function in code (`app.reference(id, { fallback })`), a call that fails with anything
 * but a business error (`SERVICE_ERROR`) or the caller's own cancel gets the mock's answer instead;
 * `any:` includes business errors; `force:` never calls the provider. A `mock` in config wins over
 * the code fallback. At the call's deadline the kernel cancels the call with TIMEOUT; the mock
 * hears the cancel and answers through `invocation.recover`, so the caller gets the mock's answer
 * instead of the TIMEOUT (a code fallback that throws at once leaves the TIMEOUT). For methods
 * with neither it passes the call on after one WeakMap lookup.
 * Scope: one instance per reference; called concurrently.
 */
export class MockFilter implements Filter {
  /** Per method: its mock, null (none in config), false (never mocked: the built-in `$echo`) or the config error. */
  private readonly byMethod = new WeakMap<MethodSettings, MockSpec | null | false | RpcError>();

  /** `holder.fallback` is read per call: `app.reference(id, { fallback })` may come after the first calls. */
  constructor(
    private readonly logger: Logger,
    private readonly holder: FallbackHolder = { fallback: undefined },
  ) {}

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    let spec = this.byMethod.get(invocation.settings);
    if (spec === undefined) spec = this.mockFor(invocation);
    const fallback = this.holder.fallback;
    if (spec === false || (spec === null && fallback === undefined)) return next.invoke(invocation);
    if (spec instanceof RpcError) return Promise.reject(spec);
    // A mock in config wins over the fallback in code.
    const s = spec ?? undefined;
    if (s?.when === 'force') return answer(s, fallback, invocation, undefined);
    const onError = (err: unknown): Promise<Result> => {
      if (!applies(s, err)) return Promise.reject(err);
      return answer(s, fallback, invocation, RpcError.from(err));
    };
    if (invocation.deadline <= 0) return next.invoke(invocation).then(undefined, onError);
    const running = next.invoke(invocation);
    // Listening after `next` started: a cluster policy that answers failures itself (failsafe,
    // failback) has registered its own listener by then, and its answer wins, as it does before the deadline.
    const atDeadline = new DeadlineAnswer(s, fallback, invocation, this.logger);
    invocation.addCancelListener(atDeadline);
    return running.then(
      (result) => {
        invocation.removeCancelListener(atDeadline);
        return result;
      },
      (err: unknown) => {
        invocation.removeCancelListener(atDeadline);
        // Answered at the deadline already (here or by the cluster policy): the caller has its
        // answer, and the fallback does not run a second time for nobody.
        return invocation.recovered ?? onError(err);
      },
    );
  }

  private mockFor(invocation: Invocation): MockSpec | null | false | RpcError {
    const raw = invocation.settings.params.mock;
    let mock: MockSpec | null | false | RpcError;
    try {
      // `$echo` is how `check` and health probes ask whether a provider is there: a mock must not answer for it.
      if (invocation.method === ECHO) mock = false;
      else mock = raw === undefined || raw === '' ? null : parseMock(raw, `${invocation.serviceKey}.${invocation.method}`);
    } catch (err) {
      // Every call of the method fails with the config error rather than running unprotected; logged once.
      this.logger.error((err as Error).message, { code: MockConfigError.code });
      mock = new RpcError((err as Error).message, RpcCode.UNKNOWN, { retryable: false, reason: MockConfigError.code, cause: err });
    }
    this.byMethod.set(invocation.settings, mock);
    return mock;
  }
}

/**
 * Hears the kernel's TIMEOUT cancel of one call and answers it with the mock (`invocation.recover`).
 * Per call, made only for calls that have a mock or fallback and a deadline.
 */
class DeadlineAnswer {
  constructor(
    private readonly spec: MockSpec | undefined,
    private readonly fallback: Fallback | undefined,
    private readonly invocation: Invocation,
    private readonly logger: Logger,
  ) {}

  onCancel(reason: RpcError): void {
    // Only the deadline: a caller's abort wants no answer, and other cancels are not failures of the provider.
    // An inner layer (failsafe, failback) that answered first keeps its answer, and no fallback runs.
    if (reason.code !== RpcCode.TIMEOUT || this.invocation.recovered !== undefined) return;
    const result = answerNow(this.spec, this.fallback, this.invocation, reason, this.logger);
    if (result !== undefined) this.invocation.recover(result);
  }
}

/**
 * The mock's answer as a Result the kernel can hand the caller at once: the value, or a promise
 * the caller's call adopts (an async fallback; a `throw` mock as a rejected promise, so the caller
 * gets the same error as before the deadline). Undefined when a code fallback throws at once:
 * the caller then gets the TIMEOUT.
 */
function answerNow(spec: MockSpec | undefined, fallback: Fallback | undefined, invocation: Invocation, error: RpcError, logger: Logger): Result | undefined {
  if (spec !== undefined) {
    if (spec.action === 'return') return { value: spec.value };
    return { value: handled(Promise.reject(new RpcError(String(spec.value), RpcCode.SERVICE_ERROR, { retryable: false, reason: MOCK_THROW_REASON, cause: error }))) };
  }
  let value: unknown;
  try {
    value = fallback!(invocation, error);
  } catch (thrown) {
    // Logged under the TIMEOUT's code: the caller sees only the TIMEOUT, not why no fallback answered.
    const message = thrown instanceof Error ? thrown.message : String(thrown);
    logger.warn(`the fallback of ${invocation.serviceKey || invocation.service}.${invocation.method} threw at the deadline (${message}); the caller gets the TIMEOUT`, {
      code: error.reason ?? RpcCode.TIMEOUT,
      service: invocation.serviceKey || invocation.service,
      method: invocation.method,
    });
    return undefined;
  }
  if (!isThenable(value)) return { value };
  return { value: handled(Promise.resolve(value).then(undefined, (thrown: unknown) => Promise.reject(RpcError.from(thrown, RpcCode.SERVICE_ERROR)))) };
}

/** `p`, marked handled: the caller's call adopts it; nothing is reported as unhandled if none does. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function applies(spec: MockSpec | undefined, err: unknown): boolean {
  const code = RpcError.is(err) ? err.code : RpcCode.UNKNOWN;
  if (code === RpcCode.CANCELLED) return false;
  if (code === RpcCode.SERVICE_ERROR) return spec?.when === 'any';
  return true;
}

function answer(spec: MockSpec | undefined, fallback: Fallback | undefined, invocation: Invocation, error: RpcError | undefined): Promise<Result> {
  if (spec !== undefined) {
    if (spec.action === 'return') return Promise.resolve({ value: spec.value });
    return Promise.reject(
      new RpcError(String(spec.value), RpcCode.SERVICE_ERROR, { retryable: false, reason: MOCK_THROW_REASON, ...(error ? { cause: error } : {}) }),
    );
  }
  try {
    return Promise.resolve(fallback!(invocation, error!)).then(
      (value) => ({ value }),
      (thrown: unknown) => Promise.reject(RpcError.from(thrown, RpcCode.SERVICE_ERROR)),
    );
  } catch (thrown) {
    return Promise.reject(RpcError.from(thrown, RpcCode.SERVICE_ERROR));
  }
}

/** Checks every `mock` value in the config (consumer defaults, references, their methods); throws the first bad one. */
export function checkMockConfig(config: unknown): void {
  const c = config as { consumer?: Record<string, unknown>; references?: Record<string, Record<string, unknown>> } | undefined;
  const check = (level: Record<string, unknown> | undefined, where: string) => {
    const v = level?.mock;
    if (v === undefined || v === null) return;
    if (typeof v !== 'string') throw MockConfigError(where, JSON.stringify(v) ?? String(v), 'it must be a string');
    parseMock(v, where);
  };
  check(c?.consumer, 'consumer');
  for (const [id, ref] of Object.entries(c?.references ?? {})) {
    check(ref, `references.${id}`);
    for (const [method, level] of Object.entries((ref?.methods ?? {}) as Record<string, Record<string, unknown>>)) check(level, `references.${id}.methods.${method}`);
  }
}

function optional<T>(ctx: ExtensionContext, token: symbol): T | undefined {
  try {
    return ctx.inject<T>(token);
  } catch {
    return undefined;
  }
}

export default definePlugin({
  name: '@plexus/filters',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'mock',
      keys: ['mock'],
      activate: { side: ['consumer'], order: -1000, stage: 'cluster' },
      create: (ctx: ExtensionContext) => {
        // A malformed mock anywhere in the config fails the start, not a call.
        checkMockConfig(optional(ctx, CONFIG));
        return new MockFilter(ctx.logger, optional<FallbackHolder>(ctx, REFERENCE_FALLBACK));
      },
    },
  ],
});

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
/** The `reason` of the TIMEOUT the mock filter cancels a call with when it answers ahead of the deadline. */
export const MOCK_DEADLINE_REASON = 'PLEXUS_ERR_MOCK_DEADLINE';

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
 * Time the mock answers ahead of a call's deadline (at most this many ms, at most a tenth of the
 * budget), so that the fallback, not the kernel's TIMEOUT, reaches the caller: the kernel's deadline
 * wheel settles calls up to 10 ms after their deadline.
 */
export const MOCK_DEADLINE_MARGIN_MS = 15;

/**
 * Mock and fallback (consumer, outermost of the cluster stage, so it sees the outcome after
 * retries; Dubbo's MockClusterInvoker). For a method with `mock` set, or a reference given a
 * `fallback` function in code (`app.reference(id, { fallback })`), a call that fails with anything
 * but a business error (`SERVICE_ERROR`) or the caller's own cancel gets the mock's answer instead;
 * `any:` includes business errors; `force:` never calls the provider. A `mock` in config wins over
 * the code fallback. For methods with neither it passes the call on after one WeakMap lookup.
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
    return this.aheadOfDeadline(next, invocation, onError);
  }

  /** Runs the call, answering with the mock shortly before the deadline if the call is still out then. */
  private aheadOfDeadline(next: Invoker, invocation: Invocation, onError: (err: unknown) => Promise<Result>): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let settled = false;
      const budget = invocation.deadline - Date.now();
      const margin = Math.min(MOCK_DEADLINE_MARGIN_MS, Math.floor(budget / 10));
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        const err = new RpcError(
          `${invocation.service}.${invocation.method} did not answer within its timeout; the mock answered instead`,
          RpcCode.TIMEOUT,
          { reason: MOCK_DEADLINE_REASON },
        );
        // The call is given up: its pending request and the provider's signal stop.
        invocation.cancel(err);
        onError(err).then(resolve, reject);
      }, Math.max(0, budget - margin));
      next.invoke(invocation).then(
        (result) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(result);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          onError(err).then(resolve, reject);
        },
      );
    });
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

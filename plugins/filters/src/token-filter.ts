import { createHash, timingSafeEqual } from 'node:crypto';
import { definePlugin, type CallInterceptor, type Filter, type Invocation, type Invoker, type Logger, type MethodSettings, type Result, type URL } from '@plexus/kernel/spi';
import { configRefusal } from './ratelimit-errors';
import { forbidden, TokenErrors } from './token-errors';

/** The attachment and URL parameter that carry the token. */
export const TOKEN_KEY = 'token';

/** The tokens a provider URL publishes: the service's, and methods' own (`<method>.token`). */
interface UrlTokens {
  service: string | undefined;
  methods: Map<string, string> | undefined;
}

/** `true`/`false` are switches, not tokens: a URL saying so carries no token to send. */
function tokenValue(value: string | undefined): string | undefined {
  return value === undefined || value === '' || value === 'true' || value === 'false' ? undefined : value;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The `token` filter (auth), on both sides of a call:
 * - provider: a service with `token` set (a string, or `true` for a random one generated when the
 *   service is exported and published in its URL through the registry) admits only calls whose
 *   `token` attachment matches. The comparison hashes both sides to equal-length SHA-256 digests
 *   and compares those with `crypto.timingSafeEqual`, so its time tells nothing about the token.
 *   A refused call gets FORBIDDEN (not retryable). In-process (`injvm`) calls are trusted.
 * - consumer (`invoker` stage, so it sees the chosen provider): attaches the token of that
 *   provider's URL; a direct `url:` without a token sends none, and is refused.
 * The token is never logged nor put in an error message.
 *
 * Scope: one instance per service or reference chain, called concurrently. Without a token the
 * provider side costs one WeakMap lookup per call, the consumer side two lookups.
 */
export class TokenFilter implements Filter {
  private readonly expected = new WeakMap<MethodSettings, Buffer | Error | null>();
  private readonly published = new WeakMap<URL, UrlTokens>();

  constructor(private readonly logger: Logger) {}

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    if (invocation.remoteAddress === undefined) return this.attach(next, invocation);
    const refusal = this.check(invocation, invocation.remoteAddress);
    return refusal === undefined ? next.invoke(invocation) : Promise.reject(refusal);
  }

  /** The provider's check as a callback (the kernel runs interceptors on the provider side only). */
  readonly interceptor: CallInterceptor = {
    before: (invocation: Invocation): void => {
      if (invocation.remoteAddress === undefined) return;
      const refusal = this.check(invocation, invocation.remoteAddress);
      if (refusal !== undefined) throw refusal;
    },
    after: (): void => undefined,
  };

  /** Provider: the error refusing the call, or undefined when its token is right (or none is needed). */
  private check(invocation: Invocation, remote: string): Error | undefined {
    let expected = this.expected.get(invocation.settings);
    if (expected === undefined) {
      expected = this.expectedOf(invocation);
      this.expected.set(invocation.settings, expected);
    }
    if (expected === null || remote === 'injvm') return undefined;
    if (expected instanceof Error) return configRefusal(expected);
    const given: unknown = invocation.attachments[TOKEN_KEY];
    if (typeof given !== 'string' || given === '') return forbidden(invocation, false);
    if (!timingSafeEqual(digest(given), expected)) return forbidden(invocation, true);
    return undefined;
  }

  private attach(next: Invoker, invocation: Invocation): Promise<Result> {
    const url = next.url;
    let tokens = this.published.get(url);
    if (tokens === undefined) {
      tokens = tokensOf(url);
      this.published.set(url, tokens);
    }
    const token = tokens.methods?.get(invocation.method) ?? tokens.service;
    // A provider that publishes none leaves whatever the caller attached itself.
    if (token !== undefined) invocation.attachments[TOKEN_KEY] = token;
    return next.invoke(invocation);
  }

  private expectedOf(invocation: Invocation): Buffer | Error | null {
    const value = invocation.settings.params[TOKEN_KEY];
    if (value === undefined || value === '' || value === 'false') return null;
    if (value === 'true') {
      const err = TokenErrors.NOT_GENERATED(`${invocation.serviceKey || invocation.service}.${invocation.method}`);
      this.logger.error(err.message, { code: err.code });
      return err;
    }
    return digest(value);
  }
}

function tokensOf(url: URL): UrlTokens {
  const methods = new Map<string, string>();
  for (const [k, v] of Object.entries(url.params)) {
    if (!k.endsWith(`.${TOKEN_KEY}`)) continue;
    const t = tokenValue(v);
    if (t !== undefined) methods.set(k.slice(0, -TOKEN_KEY.length - 1), t);
  }
  return { service: tokenValue(url.params[TOKEN_KEY]), methods: methods.size > 0 ? methods : undefined };
}

export default definePlugin({
  name: '@plexus/filters',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'token',
      keys: ['token'],
      // Provider: first of all, so a caller without the token spends no permit or slot.
      // Consumer: per chosen provider (invoker stage), to send that provider's token.
      activate: { side: ['consumer', 'provider'], order: -1000, stage: 'invoker', keys: { provider: ['token'] } },
      create: (ctx) => new TokenFilter(ctx.logger),
    },
  ],
});

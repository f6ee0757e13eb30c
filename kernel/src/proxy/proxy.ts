import { DeferredStream } from '../stream/deferred-stream';

/** What a proxy calls through: the reference's runtime (the app layer implements it). */
export interface CallTarget {
  readonly serviceKey: string;
  call(method: string, args: unknown[], attachments?: Record<string, string>): Promise<unknown>;
  /** True when `method` is declared `stream: true`: the proxy returns its stream at once. */
  streams?(method: string): boolean;
}

/** A streamed call as an `AsyncIterable` at once: the call starts now, items are read as they come. */
function streamCall(runtime: CallTarget, method: string, args: unknown[], attachments?: Record<string, string>): DeferredStream {
  return new DeferredStream(runtime.call(method, args, attachments), `${runtime.serviceKey}.${method}`);
}

/** Methods every proxy has besides the service's own. */
export interface ProxyExtras {
  /** Sends `value` to the provider's built-in echo and returns it: a liveness check. */
  $echo<T>(value: T): Promise<T>;
}

/**
 * A typed client: each method of `T` becomes a method returning a Promise of its result; a method
 * returning an `AsyncIterable` (an `async *` method) returns an `AsyncIterableIterator` of its
 * items — declare it `stream: true` in the reference's `methods:` so the proxy streams it.
 */
export type ServiceProxy<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? R extends AsyncIterable<infer I>
      ? (...args: A) => AsyncIterableIterator<I>
      : (...args: A) => Promise<Awaited<R>>
    : never;
} & ProxyExtras;

// Names a Proxy must not turn into remote calls: awaiting (`then` — so a proxy is never taken for a
// promise), printing and serialising the proxy, and test matchers probing it. Service methods
// named `catch`, `finally` or `inspect` stay callable; the generic `$invoke` reaches any name.
const NOT_REMOTE = new Set(['then', 'toJSON', 'constructor', 'asymmetricMatch', 'nodeType', 'toString', 'valueOf']);

/**
 * Creates the typed proxy of a reference. Each method function is created on first access and
 * cached, so a call allocates only its invocation.
 */
export function createProxy<T>(runtime: CallTarget): ServiceProxy<T> {
  const methods = new Map<string, (...args: unknown[]) => unknown>();
  const target = Object.create(null) as Record<string, unknown>;
  return new Proxy(target, {
    get(_t, prop) {
      if (typeof prop !== 'string' || NOT_REMOTE.has(prop)) {
        if (prop === 'toString') return () => `[Plexus reference ${runtime.serviceKey}]`;
        return undefined;
      }
      let fn = methods.get(prop);
      if (fn === undefined) {
        fn = runtime.streams?.(prop) === true
          ? (...args: unknown[]) => streamCall(runtime, prop, args)
          : (...args: unknown[]) => runtime.call(prop, args);
        methods.set(prop, fn);
      }
      return fn;
    },
    has(_t, prop) {
      return typeof prop === 'string' && !NOT_REMOTE.has(prop);
    },
    set() {
      return false;
    },
  }) as ServiceProxy<T>;
}

/** A reference used without a TypeScript interface: `$invoke(method, args)`. */
export interface GenericService {
  $invoke<R = unknown>(method: string, args?: unknown[], attachments?: Record<string, string>): Promise<R>;
  /**
   * Calls a streaming method: the call starts now and its items are read from the iterator. An
   * argument that is an `AsyncIterable` is sent as a client stream.
   */
  $stream<R = unknown>(method: string, args?: unknown[], attachments?: Record<string, string>): AsyncIterableIterator<R>;
  $echo<T>(value: T): Promise<T>;
}

export function createGeneric(runtime: CallTarget): GenericService {
  return {
    $invoke: <R>(method: string, args: unknown[] = [], attachments?: Record<string, string>) =>
      runtime.call(method, Array.isArray(args) ? args : [args], attachments) as Promise<R>,
    $stream: <R>(method: string, args: unknown[] = [], attachments?: Record<string, string>) =>
      streamCall(runtime, method, Array.isArray(args) ? args : [args], attachments) as AsyncIterableIterator<R>,
    $echo: <T>(value: T) => runtime.call('$echo', [value]) as Promise<T>,
  };
}

import type { ReferenceRuntime } from '../app/reference-runtime';

/** Methods every proxy has besides the service's own. */
export interface ProxyExtras {
  /** Sends `value` to the provider's built-in echo and returns it: a liveness check. */
  $echo<T>(value: T): Promise<T>;
}

/** A typed client: each method of `T` becomes a method returning a Promise of its result. */
export type ServiceProxy<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
} & ProxyExtras;

// Names a Proxy must not turn into remote calls: awaiting, printing and serialising the proxy.
const NOT_REMOTE = new Set(['then', 'catch', 'finally', 'toJSON', 'inspect', 'constructor', 'asymmetricMatch', 'nodeType', 'toString', 'valueOf']);

/**
 * Creates the typed proxy of a reference. Each method function is created on first access and
 * cached, so a call allocates only its invocation.
 */
export function createProxy<T>(runtime: ReferenceRuntime): ServiceProxy<T> {
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const target = Object.create(null) as Record<string, unknown>;
  return new Proxy(target, {
    get(_t, prop) {
      if (typeof prop !== 'string' || NOT_REMOTE.has(prop)) {
        if (prop === 'toString') return () => `[Plexus reference ${runtime.serviceKey}]`;
        return undefined;
      }
      let fn = methods.get(prop);
      if (fn === undefined) {
        fn = (...args: unknown[]) => runtime.call(prop, args);
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
  $echo<T>(value: T): Promise<T>;
}

export function createGeneric(runtime: ReferenceRuntime): GenericService {
  return {
    $invoke: <R>(method: string, args: unknown[] = [], attachments?: Record<string, string>) =>
      runtime.call(method, Array.isArray(args) ? args : [args], attachments) as Promise<R>,
    $echo: <T>(value: T) => runtime.call('$echo', [value]) as Promise<T>,
  };
}

import { AsyncLocalStorage } from 'node:async_hooks';

/** What a provider method sees of its call through `Plexus.context()`. */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  readonly attachments: Readonly<Record<string, string>>;
  /** The consumer's address, `host:port` (or `injvm` for an in-process call). */
  readonly remoteAddress?: string;
  /** Epoch ms after which nobody waits for the answer; 0 when none. */
  readonly deadline: number;
  /**
   * Aborted when the call's deadline passes, the consumer cancels, or its connection drops; the
   * `reason` is a coded RpcError. Long work should watch it and stop.
   */
  readonly signal: AbortSignal;
  /**
   * Attachments sent back with the answer (plexus response attachments, gRPC trailing metadata,
   * the consumer's `Result.attachments`): set entries before the method returns. Created on first
   * access, so calls that send none pay nothing.
   */
  readonly responseAttachments: Record<string, string>;
}

/** Per-call options set on the consumer side by `Plexus.withCallOptions`. */
export interface CallOptions {
  /** Sent with every call made inside; merged over outer ones. */
  readonly attachments?: Readonly<Record<string, string>>;
  /** The whole call's budget in ms for calls made inside (retries included); 0 = none. */
  readonly timeout?: number;
  /** Aborting it cancels calls made inside: they reject with CANCELLED and the provider's signal aborts. */
  readonly signal?: AbortSignal;
}

/**
 * The provider's invocation is the context itself, so entering a call allocates nothing beyond
 * what AsyncLocalStorage does.
 */
export const callStorage = new AsyncLocalStorage<CallContext>();

/**
 * Runs `fn` as the provider call `context`, so `Plexus.context()` answers it in `fn` and in
 * everything `fn` awaits. For executors that run implementations elsewhere (a worker thread)
 * and rebuild the context there.
 */
export function runInCallContext<R>(context: CallContext, fn: () => R): R {
  return callStorage.run(context, fn);
}

/** The provider call running now (in this async context), or undefined: `Plexus.currentContext()` for plugins. */
export function currentCallContext(): CallContext | undefined {
  return callStorage.getStore();
}

/** Options set by `Plexus.withCallOptions` for calls made inside its callback. */
export const outgoingStorage = new AsyncLocalStorage<CallOptions>();

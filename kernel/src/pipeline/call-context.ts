import { AsyncLocalStorage } from 'node:async_hooks';
import type { Invocation } from '../spi/invocation';

/** What a provider method sees of its call through `Plexus.context()`. */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  readonly attachments: Readonly<Record<string, string>>;
  /** The consumer's address, `host:port`. */
  readonly remoteAddress?: string;
  /** Epoch ms after which the consumer stops waiting; 0 when none. */
  readonly deadline: number;
}

/**
 * The provider's invocation is the context itself, so entering a call allocates nothing beyond
 * what AsyncLocalStorage does.
 */
export const callStorage = new AsyncLocalStorage<Invocation>();

/** Outgoing attachments set by `Plexus.withAttachments` for calls made inside its callback. */
export const outgoingStorage = new AsyncLocalStorage<Readonly<Record<string, string>>>();

export function currentContext(): CallContext | undefined {
  return callStorage.getStore();
}

import type { Invoker } from '@plexus/kernel/spi';

/**
 * Most answers kept per input list. Keys are method names (condition router), which a generic
 * caller may invent: past this many, answers are computed without being kept, so a flood of
 * made-up names costs CPU per call but no memory.
 */
export const MAX_CACHED_KEYS = 1024;

/**
 * Route results of one router, per input list and key. The list the directory last notified is
 * the hot path (one `Map.get`); other lists (a router earlier in the chain handed a narrowed one)
 * are kept in a `WeakMap` by identity, so they go with their list. Cleared when the providers or
 * the rules change. A hit allocates nothing.
 */
export class RouteCache<V> {
  private notified: readonly Invoker[] | undefined;
  private main = new Map<string, V>();
  private others = new WeakMap<readonly Invoker[], Map<string, V>>();

  /** Forgets every answer; `list` is the provider list now in rotation (the usual input). */
  reset(list: readonly Invoker[] | undefined): void {
    this.notified = list;
    this.main = new Map();
    this.others = new WeakMap();
  }

  get(input: readonly Invoker[], key: string): V | undefined {
    if (input === this.notified) return this.main.get(key);
    return this.others.get(input)?.get(key);
  }

  set(input: readonly Invoker[], key: string, value: V): void {
    let map: Map<string, V> | undefined;
    if (input === this.notified) map = this.main;
    else {
      map = this.others.get(input);
      if (map === undefined) this.others.set(input, (map = new Map()));
    }
    if (map.size < MAX_CACHED_KEYS) map.set(key, value);
  }

  /** Answers kept for the notified list. For tests and diagnostics. */
  get size(): number {
    return this.main.size;
  }
}

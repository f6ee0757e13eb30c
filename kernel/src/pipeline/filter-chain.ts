import type { Filter } from '../spi/filter';
import type { Invocation } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Result } from '../spi/result';
import type { URL } from '../url/url';

/** One link of a chain: calls its filter with the next link. Allocated once, when the chain is built. */
class FilterInvoker implements Invoker {
  constructor(
    private readonly filter: Filter,
    private readonly next: Invoker,
  ) {}
  get url(): URL {
    return this.next.url;
  }
  invoke(invocation: Invocation): Promise<Result> {
    return this.filter.invoke(this.next, invocation);
  }
  isAvailable(): boolean {
    return this.next.isAvailable ? this.next.isAvailable() : true;
  }
  streams(method: string): boolean | undefined {
    return this.next.streams?.(method);
  }
  destroy(): Promise<void> | void {
    return this.next.destroy?.();
  }
}

/**
 * Wraps `terminal` in `filters` (first = outermost). Built once per reference or service;
 * with no filters the terminal invoker itself is returned.
 */
export function buildFilterChain(terminal: Invoker, filters: readonly Filter[]): Invoker {
  return filters.reduceRight<Invoker>((next, filter) => new FilterInvoker(filter, next), terminal);
}

/**
 * Applies Dubbo's rule to a user's `filter:` list: the activated defaults, minus `-name`, all of
 * them dropped by `-default`, plus the names listed; `default` in the list marks where the
 * defaults go (else they come first).
 */
export function selectFilterNames(defaults: readonly string[], user: readonly string[] = []): string[] {
  const removed = new Set(user.filter((n) => n.startsWith('-')).map((n) => n.slice(1)));
  const keepDefaults = !removed.has('default');
  const defaultsKept = keepDefaults ? defaults.filter((n) => !removed.has(n)) : [];
  const listed = user.filter((n) => !n.startsWith('-'));
  const out: string[] = [];
  const push = (n: string) => {
    if (!removed.has(n) && !out.includes(n)) out.push(n);
  };
  if (!listed.includes('default')) defaultsKept.forEach(push);
  for (const n of listed) {
    if (n === 'default') defaultsKept.forEach(push);
    else push(n);
  }
  return out;
}

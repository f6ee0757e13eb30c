import type { Directory, Invocation, Invoker, LoadBalance, RpcError } from '@plexus/kernel/spi';
import { noProviderError as noProvider } from './errors';

export { NO_PROVIDER_REASON } from './errors';

/** The NO_PROVIDER error for a call through `directory`, with what to check. */
export function noProviderError(directory: Directory, invocation: Invocation, detail?: string): RpcError {
  const out = directory.suspended?.() ?? [];
  if (out.length === 0) return noProvider(directory.url.toString(), invocation, detail);
  // Providers are listed but out of rotation: say so, not "is a provider running?".
  const shown = out.slice(0, 5).map((s) => `${s.address} (${s.reason})`).join(', ');
  const more = out.length > 5 ? ` and ${out.length - 5} more` : '';
  return noProvider(directory.url.toString(), invocation, `${detail ?? ''}: ${out.length} listed provider${out.length === 1 ? ' is' : 's are'} out of rotation: ${shown}${more}`, true);
}

/** False only for a provider that says it is unusable (closed connection, shutting down). */
export const usable = (invoker: Invoker): boolean => invoker.isAvailable?.() !== false;

/**
 * Chooses the provider for one attempt: the load balancer's pick unless that provider is known to
 * be unavailable or (on a retry) was already tried, in which case the balancer picks again among the
 * rest. Allocates only on that second path. When every provider is unusable or tried, picks among
 * the available ones anyway (a retry on a tried provider beats failing early), and among all when
 * none is available.
 */
export function choose(lb: LoadBalance, invokers: readonly Invoker[], invocation: Invocation, tried?: readonly Invoker[]): Invoker {
  if (invokers.length === 1) return invokers[0];
  const picked = lb.select(invokers, invocation);
  if (usable(picked) && (tried === undefined || !tried.includes(picked))) return picked;
  const fresh = invokers.filter((i) => usable(i) && (tried === undefined || !tried.includes(i)));
  if (fresh.length > 0) return fresh.length === 1 ? fresh[0] : lb.select(fresh, invocation);
  const available = tried === undefined ? fresh : invokers.filter(usable);
  if (available.length === 0) return picked;
  if (available.length === 1) return available[0];
  // Everything has been tried: move on from the provider that failed last rather than repeat it.
  const last = tried![tried!.length - 1];
  const again = lb.select(available, invocation);
  return again !== last ? again : available[(available.indexOf(last) + 1) % available.length];
}

/** The first provider in list order that is usable, or undefined. For `available`, which does not balance. */
export function firstAvailable(invokers: readonly Invoker[]): Invoker | undefined {
  for (const i of invokers) if (usable(i)) return i;
  return undefined;
}

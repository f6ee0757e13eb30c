import { defineError, type ServiceInvoker } from '@plexus/kernel/spi';
import type { CodecTable } from './codec-table';
import type { PlexusProtocolOptions } from './options';

/**
 * The checks a provider makes on a request before it touches the body (DESIGN §12): the method
 * must exist and the body's compressor must be one the service accepts, so that a hostile body
 * costs nothing to refuse: it is neither decompressed nor decoded.
 */

/** The errors of these checks; each rides in `RpcError.reason`, listed in the README. */
export const GuardErrors = {
  COMPRESSOR_REFUSED: defineError(
    'PLEXUS_ERR_PROTOCOL_COMPRESSOR_REFUSED',
    (service: string, compressor: string, accepted: string[]) =>
      `service ${service} does not accept request bodies compressed with ${compressor}; it accepts ${accepted.join(', ')}`,
    'configure the reference with a compressor the provider uses (its `compressor` at protocol, provider, service or method level), or add that compressor to the provider configuration.',
  ),
  HEADER_LIMIT: defineError(
    'PLEXUS_ERR_PROTOCOL_HEADER_LIMIT',
    (what: string, limit: number) => `the request header holds more than ${limit} ${what}; refused before reading the rest`,
    'send fewer attachments per call (the provider accepts `maxAttachments`, default 256); large data belongs in arguments.',
  ),
} as const;

/** What a kernel that knows more than the `ServiceInvoker` contract may offer (feature-checked). */
interface GuardHooks {
  /** Whether `method` (a name or a wire index) can be called on this service. */
  hasMethod?(method: string | number): boolean;
  /** Whether a request body may arrive compressed with the compressor of wire id `id`. */
  accepts?(compressorId: number): boolean;
}

/** Methods every service answers besides its table (the kernel's built-in liveness probe). */
const BUILT_IN_METHODS = ['$echo'];

const methodSets = new WeakMap<ServiceInvoker, Set<string>>();

/**
 * Whether the service can be called with `method`: through the kernel's `hasMethod` when it has
 * one, else from the declared `methods` (a name, a valid index, or a built-in method).
 */
export function hasMethod(service: ServiceInvoker, method: string | number): boolean {
  const hooks = service as ServiceInvoker & GuardHooks;
  if (typeof hooks.hasMethod === 'function') return hooks.hasMethod(method);
  if (typeof method === 'number') return Number.isInteger(method) && method >= 0 && method < service.methods.length;
  let names = methodSets.get(service);
  if (names === undefined) {
    names = new Set([...service.methods, ...BUILT_IN_METHODS]);
    methodSets.set(service, names);
  }
  return names.has(method);
}

const acceptedSets = new WeakMap<ServiceInvoker, Set<number>>();

/**
 * Whether a request body for `service` may be compressed with compressor `compressorId`. Identity
 * (0) always is. Otherwise the kernel's `accepts` decides when it has one; else the service
 * accepts the compressors it is configured with: the protocol's `compressor` and every
 * `compressor` in the service's settings (service level and per method, as its URL carries them).
 */
export function acceptsCompressor(service: ServiceInvoker, compressorId: number, codecs: CodecTable, options: PlexusProtocolOptions): boolean {
  if (compressorId === 0) return true;
  const hooks = service as ServiceInvoker & GuardHooks;
  if (typeof hooks.accepts === 'function') return hooks.accepts(compressorId);
  let ids = acceptedSets.get(service);
  if (ids === undefined) {
    ids = new Set([0]);
    for (const name of configuredCompressors(service, options)) {
      try {
        ids.add(codecs.compressor(name).id);
      } catch {
        // a name that does not resolve was reported at start; it accepts nothing here
      }
    }
    acceptedSets.set(service, ids);
  }
  return ids.has(compressorId);
}

/** Names of the compressors the service is configured with (for the refusal's message too). */
export function configuredCompressors(service: ServiceInvoker, options: PlexusProtocolOptions): string[] {
  const names = new Set<string>(['identity', options.compressor]);
  const params = (service.url?.params ?? {}) as Readonly<Record<string, string | undefined>>;
  for (const key of Object.keys(params)) {
    if (key === 'compressor' || key.endsWith('.compressor')) {
      const value = params[key];
      if (typeof value === 'string' && value !== '') names.add(value);
    }
  }
  return [...names];
}

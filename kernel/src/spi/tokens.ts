import type { RpcError } from '../errors/rpc-error';
import type { Invocation } from './invocation';

/**
 * Tokens of what the application's tsyringe container holds, for plugin classes that take what
 * they need in their constructor: `constructor(@inject(LOGGER) logger: Logger) {}`.
 * Scope: one value per application (each service and reference container inherits them).
 */
/** The application's `Logger`. */
export const LOGGER = Symbol.for('plexus.logger');
/** The application's resolved `PlexusConfig` (read-only). */
export const CONFIG = Symbol.for('plexus.config');
/** The `ExtensionContext` of the extension being created (its options, logger, resolve). */
export const EXTENSION_CONTEXT = Symbol.for('plexus.extensionContext');
/**
 * The application's event stream (`AppEvents`): plugins `emit('circuit:open', { ... })`, users
 * `app.on(type, listener)`. The event names are listed in the kernel's `app/events.ts`.
 */
export const EVENTS = Symbol.for('plexus.events');
/** The application's `NodeAvailability`: filters take provider nodes out of rotation through it. */
export const NODE_AVAILABILITY = Symbol.for('plexus.nodeAvailability');
/**
 * A reference's `FallbackHolder`, in that reference's child container only: `app.reference(id,
 * { fallback })` fills it (also after the reference was created at start); the `mock` filter reads
 * it on failure.
 */
export const REFERENCE_FALLBACK = Symbol.for('plexus.referenceFallback');
/** Where a reference keeps its fallback function; `fallback` is undefined until one is given. */
export interface FallbackHolder {
  fallback: Fallback | undefined;
}
/** What a fallback returns for a failed call: its value (or a promise of it), or it throws. */
export type Fallback = (invocation: Invocation, error: RpcError) => unknown;

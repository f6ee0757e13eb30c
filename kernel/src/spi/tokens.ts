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
/** The application's `NodeAvailability`: filters take provider nodes out of rotation through it. */
export const NODE_AVAILABILITY = Symbol.for('plexus.nodeAvailability');

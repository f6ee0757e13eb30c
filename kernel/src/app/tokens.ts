import { CONFIG, EVENTS, LOGGER, NODE_AVAILABILITY } from '../spi/tokens';

/**
 * Tokens of what an application's tsyringe container holds. The application's parts (exporter,
 * reference factory, registry manager, signals) are resolved from it; each service and reference
 * gets a child container holding its extensions under `Symbol.for('plexus.<point>')`.
 */
export const TOKENS = {
  config: CONFIG,
  logger: LOGGER,
  availability: NODE_AVAILABILITY,
  events: EVENTS,
  loader: Symbol.for('plexus.loader'),
  app: Symbol.for('plexus.app'),
  /** The application's root `ExtensionScope`. */
  scope: Symbol.for('plexus.scope'),
  /** A `RegistryHandle`: the `RegistryManager` (created on first use), or null when no registry is configured. */
  registries: Symbol.for('plexus.registries'),
} as const;

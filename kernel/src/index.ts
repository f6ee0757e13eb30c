/**
 * `@plexus/kernel` — the application API. Plugin authors import `@plexus/kernel/spi`;
 * contract suites and the in-memory transport live in `@plexus/kernel/testing`.
 */
import 'reflect-metadata';
export * from './spi/index';
export type * from './config/types';
export { Plexus, TOKENS } from './app/plexus';
export type { CallContext } from './pipeline/call-context';
export type { ServiceProxy, GenericService, ProxyExtras } from './proxy/proxy';
export { ConsoleLogger } from './extension/logger';
export { ExtensionErrors, AppErrors } from './errors/catalogue';
export { resolveConfig, loadConfigFile, explainConfig } from './config';
export { Rules, type RouteSpec, type OverrideSpec, type RuleInfo, type RuleScopeSpec } from './app/rules';
export { AppEvents, type PlexusEvent, type PlexusEventListener } from './app/events';

import type { Logger } from '../spi/logger';

/** Which side a filter runs on. */
export type Side = 'consumer' | 'provider';

/** Declares that a filter joins the default chain of a side, at a position. */
export interface Activation {
  side: Side[];
  /** Lower runs first (outermost). Default 0. */
  order?: number;
  /**
   * Consumer filters: `cluster` (default) wraps the cluster invoker once per reference;
   * `invoker` wraps each provider invoker (sees the chosen provider).
   */
  stage?: 'cluster' | 'invoker';
}

/** What `create` receives: validated options and a way to reach other extensions. */
export interface ExtensionContext {
  /** The extension's options from config, validated by `optionsSchema` when given. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly logger: Logger;
  /** The application's name. */
  readonly application: string;
  /** Another extension by point and name (default name when omitted). Cached per scope. */
  resolve<T>(point: string, name?: string): T;
  /** A serializer or compressor by its wire id; undefined when no loaded plugin has it. */
  resolveById<T>(point: string, id: number): T | undefined;
  /** Wrappers only: the extension being wrapped. */
  readonly inner?: unknown;
}

/** One extension: a point, a name and a factory. */
export interface ExtensionDefinition<T = unknown> {
  point: string;
  name: string;
  create(ctx: ExtensionContext): T;
  /** Filters: joins the default chain of these sides. */
  activate?: Activation;
  /** A JSON schema (ajv) for `options`. */
  optionsSchema?: Record<string, unknown>;
  /** Wire id for serializers and compressors, mirrored in the manifest. */
  id?: number;
  /** A wrapper decorates every other extension of its point (as Dubbo's wrappers do). */
  wrapper?: boolean;
}

/** A plugin module's default export. */
export interface PluginDefinition {
  name: string;
  /** A semver range of `@plexus/kernel` this plugin works with, e.g. `^0.1.0`. */
  kernel?: string;
  extensions: ExtensionDefinition[];
}

const PLUGIN_BRAND = Symbol.for('plexus.plugin');

/** Declares a plugin. Importing a plugin module must have no side effects beyond this call. */
export function definePlugin(plugin: PluginDefinition): PluginDefinition {
  if (!plugin || typeof plugin.name !== 'string' || !Array.isArray(plugin.extensions)) {
    throw new TypeError('definePlugin({ name, extensions: [...] }) needs a name and an extensions array');
  }
  Object.defineProperty(plugin, PLUGIN_BRAND, { value: true });
  return plugin;
}

export function isPluginDefinition(value: unknown): value is PluginDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PLUGIN_BRAND] === true;
}

const EXTENSION_META = Symbol.for('plexus.extension');

/** Metadata stored on a class by `@extension`. */
export interface ExtensionClassMeta {
  point: string;
  name: string;
  activate?: Activation;
  id?: number;
}

/**
 * Class form of an extension: `@extension('loadbalance', 'mine') class MineLoadBalance {...}`.
 * The class is constructed with the `ExtensionContext`.
 */
export function extension(point: string, name: string, extra: Omit<ExtensionClassMeta, 'point' | 'name'> = {}) {
  return <C extends new (ctx: ExtensionContext) => unknown>(target: C): C => {
    Object.defineProperty(target, EXTENSION_META, { value: { point, name, ...extra } satisfies ExtensionClassMeta });
    return target;
  };
}

export function extensionMetaOf(value: unknown): ExtensionClassMeta | undefined {
  return typeof value === 'function' ? ((value as unknown as Record<symbol, ExtensionClassMeta>)[EXTENSION_META] ?? undefined) : undefined;
}

/** Turns an `@extension` class into an ExtensionDefinition. */
export function definitionFromClass(cls: new (ctx: ExtensionContext) => unknown): ExtensionDefinition | undefined {
  const meta = extensionMetaOf(cls);
  if (!meta) return undefined;
  return { ...meta, create: (ctx) => new cls(ctx) };
}

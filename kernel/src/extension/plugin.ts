import 'reflect-metadata';
import { injectable } from 'tsyringe';
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
  /**
   * Joins the default chain only of services/references where one of these config keys is set (at
   * any level: provider/consumer defaults, the service or reference, one of its methods), as
   * Dubbo's `@Activate(value = ...)` does: a filter with nothing to do costs nothing. A list
   * applies to every side; `{ provider: [...] }` gates one side only (the other is always on).
   * Naming the filter in `filter:` adds it regardless.
   */
  keys?: readonly string[] | { readonly consumer?: readonly string[]; readonly provider?: readonly string[] };
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
  /**
   * What the application's tsyringe container holds, by token (`LOGGER`, `CONFIG`,
   * `NODE_AVAILABILITY` from `@plexus/kernel/spi`), resolved through this service's or
   * reference's child container.
   */
  inject<T>(token: symbol): T;
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
  /**
   * Other extensions this one needs, named by one of its options (default: the point's default
   * name): a protocol needs a transport, a serializer and a compressor. Checked when an
   * application starts, so a misspelt name fails `start()` instead of a call.
   */
  requires?: Requirement[];
  /**
   * Config keys of DESIGN §5 this extension reads at call levels (`tps`, `token`, ...): while no
   * loaded extension claims a key that a config uses, `start()` fails naming the plugin that would.
   * The extension validates their values itself (from `MethodSettings.params`).
   */
  keys?: string[];
  /** A wrapper decorates every other extension of its point (as Dubbo's wrappers do). */
  wrapper?: boolean;
  /**
   * A class whose constructor takes its dependencies by token (`@inject(LOGGER)`): the kernel
   * builds it through the scope's tsyringe container instead of calling `create`.
   * Set by `@extension` when the class uses `@inject`.
   */
  injectable?: new (...args: never[]) => T;
}

/** An extension another one needs: the extension of `point` named by option `option`. */
export interface Requirement {
  point: string;
  option: string;
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
  /** The class takes its constructor arguments by token (`@inject`). */
  injected?: boolean;
}

/** tsyringe's metadata key for constructor parameters declared with `@inject(token)`. */
const INJECTION_TOKENS = 'injectionTokens';

/**
 * Class form of an extension: `@extension('loadbalance', 'mine') class MineLoadBalance {...}`.
 * The class is constructed with the `ExtensionContext` — or, when its constructor parameters are
 * declared with `@inject(TOKEN)`, through the tsyringe container of its service or reference
 * (`@inject(EXTENSION_CONTEXT)` gives the context itself).
 */
export function extension(point: string, name: string, extra: Omit<ExtensionClassMeta, 'point' | 'name' | 'injected'> = {}) {
  return <C extends new (...args: never[]) => unknown>(target: C): C => {
    // Parameter decorators run before class decorators, so @inject's metadata is already there.
    const injected = Reflect.getOwnMetadata(INJECTION_TOKENS, target) !== undefined;
    if (injected) injectable()(target as unknown as new (...args: unknown[]) => unknown);
    Object.defineProperty(target, EXTENSION_META, { value: { point, name, ...extra, injected } satisfies ExtensionClassMeta });
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
  const { injected, ...rest } = meta;
  const def: ExtensionDefinition = { ...rest, create: (ctx) => new cls(ctx) };
  if (injected) def.injectable = cls as unknown as new (...args: never[]) => unknown;
  return def;
}

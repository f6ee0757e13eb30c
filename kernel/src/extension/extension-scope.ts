import Ajv from 'ajv';
import type { DependencyContainer } from 'tsyringe';
import { ExtensionErrors } from '../errors/catalogue';
import { PlexusError } from '../errors/plexus-error';
import type { Logger } from '../spi/logger';
import { EXTENSION_POINTS } from '../spi/points';
import { EXTENSION_CONTEXT } from '../spi/tokens';
import type { ExtensionLoader } from './extension-loader';
import type { ExtensionContext, ExtensionDefinition } from './plugin';

const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true });
const validators = new WeakMap<object, ReturnType<typeof ajv.compile>>();

/** Options configured for an extension under `extensions.<point>.<name>`. */
export type OptionsLookup = (point: string, name: string) => Record<string, unknown> | undefined;

interface Created {
  point: string;
  name: string;
  instance: unknown;
}

/**
 * Creates and caches extension instances for one scope: the application, or one reference or
 * service (a child scope). Singleton points (serializer, protocol, …) are always cached at the
 * application scope; the others per scope, so two references can hold different load balancers.
 * Each instance is also registered in the scope's tsyringe container under `Symbol.for('plexus.<point>')`.
 */
export class ExtensionScope {
  private readonly cache = new Map<string, unknown>();
  private readonly created: Created[] = [];
  private readonly root: ExtensionScope;

  constructor(
    readonly loader: ExtensionLoader,
    readonly container: DependencyContainer,
    private readonly logger: Logger,
    private readonly application: string,
    private readonly configured: OptionsLookup,
    private readonly parent?: ExtensionScope,
  ) {
    this.root = parent ? parent.root : this;
  }

  /** A child scope with its own tsyringe child container. */
  child(): ExtensionScope {
    return new ExtensionScope(this.loader, this.container.createChildContainer(), this.logger, this.application, this.configured, this);
  }

  /** The cached instance of `point`/`name` (default name when omitted). */
  get<T>(point: string, name?: string, options?: Record<string, unknown>): T {
    const n = name ?? defaultName(point);
    const key = `${point}\u0000${n}`;
    const singleton = (EXTENSION_POINTS as Record<string, { singleton: boolean }>)[point]?.singleton ?? false;
    const owner = singleton ? this.root : this;
    let instance = owner.cache.get(key);
    if (instance === undefined) {
      instance = owner.create<T>(point, n, options);
      owner.cache.set(key, instance);
    }
    return instance as T;
  }

  /** A new, uncached instance (e.g. an executor per service), wrapped by the point's wrappers. */
  create<T>(point: string, name: string, options?: Record<string, unknown>): T {
    const def = this.loader.get(point, name);
    const entry = this.loader.entryOf(point, name);
    const plugin = entry?.plugin ?? 'unknown';
    const merged = { ...(this.configured(point, name) ?? {}), ...(options ?? {}) };
    let instance: unknown = this.instantiate(def, plugin, this.validate(def, merged));
    for (const wrapper of this.loader.wrappers(point)) {
      if (wrapper === def) continue;
      instance = this.instantiate(wrapper, plugin, this.validate(wrapper, this.configured(point, wrapper.name) ?? {}), instance);
    }
    this.created.push({ point, name, instance });
    this.container.register(Symbol.for(`plexus.${point}`), { useValue: instance });
    return instance as T;
  }

  /** Closes what this scope created, in reverse order; errors are logged, not thrown. */
  async close(): Promise<void> {
    for (const { point, name, instance } of this.created.splice(0).reverse()) {
      const closable = instance as { close?: () => unknown; destroy?: () => unknown };
      try {
        if (typeof closable.close === 'function') await closable.close();
        else if (typeof closable.destroy === 'function') await closable.destroy();
      } catch (err) {
        this.logger.warn(`${point} "${name}" failed to close: ${(err as Error).message}`);
      }
    }
    this.cache.clear();
  }

  private instantiate(def: ExtensionDefinition, plugin: string, options: Record<string, unknown>, inner?: unknown): unknown {
    const ctx: ExtensionContext = {
      options: Object.freeze(options),
      logger: this.logger,
      application: this.application,
      resolve: <T>(point: string, name?: string) => this.get<T>(point, name),
      resolveById: <T>(point: string, id: number) => {
        const found = this.loader.getById(point, id);
        return found ? this.get<T>(point, found.name) : undefined;
      },
      inner,
      inject: <T>(token: symbol) => this.container.resolve<T>(token),
    };
    try {
      let instance: unknown;
      if (def.injectable !== undefined) {
        // Constructor injection: the class takes what it needs by token from this scope's container.
        const c = this.container.createChildContainer();
        c.register(EXTENSION_CONTEXT, { useValue: ctx });
        instance = c.resolve(def.injectable as unknown as new (...args: unknown[]) => unknown);
      } else {
        instance = def.create(ctx);
      }
      if (instance === undefined || instance === null) throw new Error('create() returned nothing');
      return instance;
    } catch (err) {
      if (PlexusError.is(err)) throw err;
      throw ExtensionErrors.CREATE(def.point, def.name, plugin, (err as Error).message);
    }
  }

  /** Checks the options config gives an extension (`extensions.<point>.<name>`) without creating it: what `start()` runs. */
  checkOptions(point: string, name: string): void {
    const def = this.loader.get(point, name);
    const given = this.configured(point, name);
    if (given === undefined || !def.optionsSchema) return;
    let validate = validators.get(def.optionsSchema);
    if (!validate) validators.set(def.optionsSchema, (validate = ajv.compile(def.optionsSchema)));
    if (validate({ ...given })) return;
    // Options the kernel adds when it creates the extension (a registry's address, an executor's
    // threads) may be missing here: only what the config itself gets wrong is reported now.
    const problems = (validate.errors ?? []).filter((e) => e.keyword !== 'required').map(describeProblem);
    if (problems.length > 0) throw ExtensionErrors.OPTIONS(def.point, def.name, problems.join('; '));
  }

  private validate(def: ExtensionDefinition, options: Record<string, unknown>): Record<string, unknown> {
    if (!def.optionsSchema) return options;
    let validate = validators.get(def.optionsSchema);
    if (!validate) validators.set(def.optionsSchema, (validate = ajv.compile(def.optionsSchema)));
    // A shallow copy: options may hold Buffers or functions (TLS keys, hooks) that must not be cloned.
    const copy = { ...options };
    if (!validate(copy)) {
      const problems = (validate.errors ?? []).map(describeProblem).join('; ');
      throw ExtensionErrors.OPTIONS(def.point, def.name, problems);
    }
    return copy;
  }
}

/** One ajv error as a reader needs it: where, what, and the offending key or the allowed values. */
function describeProblem(e: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }): string {
  const where = e.instancePath || '(options)';
  if (e.keyword === 'additionalProperties') return `${where}: unknown option "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues)) return `${where} must be one of ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

function defaultName(point: string): string {
  const d = (EXTENSION_POINTS as Record<string, { default: string | undefined }>)[point]?.default;
  if (!d) throw ExtensionErrors.NOT_FOUND(point, '(no name given)', [], undefined, []);
  return d;
}



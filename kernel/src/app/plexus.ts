import 'reflect-metadata';
import * as os from 'node:os';
import * as path from 'node:path';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { CONFIG_DEFAULTS, resolveConfig } from '../config';
import type { PlexusConfig, PlexusConfigInput, ProtocolConfig, ReferenceConfig, ServiceConfig } from '../config/types';
import { AppErrors } from '../errors/catalogue';
import { PlexusError } from '../errors/plexus-error';
import { ExtensionLoader } from '../extension/extension-loader';
import { ExtensionScope } from '../extension/extension-scope';
import { ConsoleLogger } from '../extension/logger';
import type { PluginDefinition } from '../extension/plugin';
import { callStorage, outgoingStorage, type CallContext } from '../pipeline/call-context';
import { selectFilterNames } from '../pipeline/filter-chain';
import { MethodTable } from '../pipeline/method-table';
import { resolveMethodSettings, toUrlParams } from '../pipeline/method-settings';
import injvmPlugin, { InjvmProtocol } from '../protocol/injvm-protocol';
import identityPlugin from '../protocol/identity-compressor';
import { RegistryDirectory } from '../cluster/registry-directory';
import { StaticDirectory } from '../cluster/static-directory';
import { buildFilterChain } from '../pipeline/filter-chain';
import { createGeneric, createProxy, type GenericService, type ServiceProxy } from '../proxy/proxy';
import type { Directory } from '../spi/directory';
import type { Executor } from '../spi/executor';
import type { Filter } from '../spi/filter';
import type { Exporter, Invoker } from '../spi/invoker';
import type { Protocol } from '../spi/protocol';
import type { Registry } from '../spi/registry';
import { URL, serviceKey } from '../url/url';
import { ReferenceRuntime } from './reference-runtime';
import { ServiceRuntime } from './service-runtime';
import { suggest } from '../config/suggest';

/** Tokens of what the application container holds (tsyringe). */
export const TOKENS = {
  config: Symbol.for('plexus.config'),
  loader: Symbol.for('plexus.loader'),
  logger: Symbol.for('plexus.logger'),
  app: Symbol.for('plexus.app'),
} as const;

type State = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';
type Level = Readonly<Record<string, unknown>> | undefined;

/** How long `check: true` waits for a registry's first provider list, ms. */
const CHECK_TIMEOUT = 5000;


interface ProvidedService {
  config: ServiceConfig;
  target: object;
  /** Absolute module path when the implementation came from a file (the worker executor needs it). */
  modulePath?: string;
}

/**
 * A Plexus application: the services it provides and the references it calls, over the plugins
 * its config names. `Plexus.fromConfig('plexus.yaml')` or `Plexus.create({...})`, then `start()`.
 */
export class Plexus {
  readonly config: PlexusConfig;
  readonly container: DependencyContainer;
  readonly loader: ExtensionLoader;
  readonly logger: ConsoleLogger;
  private readonly scope: ExtensionScope;
  private state: State = 'created';
  private readonly provided: ProvidedService[] = [];
  private readonly services: ServiceRuntime[] = [];
  private readonly exporters: Exporter[] = [];
  private readonly registered: URL[] = [];
  private readonly references = new Map<string, ReferenceRuntime>();
  private readonly proxies = new Map<string, unknown>();
  private readonly boundPorts = new Map<string, number>();
  private registryInstance?: Registry;
  private readonly startupHooks: Array<{ name: string; run: () => unknown }> = [];
  private signalHandler?: (signal: NodeJS.Signals) => void;
  private stopping?: Promise<void>;

  private constructor(config: PlexusConfig) {
    this.config = config;
    this.logger = config.logLevel ? new ConsoleLogger(config.application.name, config.logLevel) : new ConsoleLogger(config.application.name);
    this.container = rootContainer.createChildContainer();
    this.loader = new ExtensionLoader(config.baseDir, this.logger);
    this.loader.addPlugin(injvmPlugin);
    this.loader.addPlugin(identityPlugin);
    for (const spec of config.plugins) this.loader.addSpec(spec);
    this.scope = new ExtensionScope(
      this.loader,
      this.container,
      this.logger,
      config.application.name,
      (point, name) => config.extensions?.[point]?.[name],
    );
    this.container.register(TOKENS.config, { useValue: config });
    this.container.register(TOKENS.loader, { useValue: this.loader });
    this.container.register(TOKENS.logger, { useValue: this.logger });
    this.container.register(TOKENS.app, { useValue: this });
    for (const service of config.services) {
      if (service.implementation !== undefined) this.provided.push(this.loadImplementation(service));
    }
  }

  /** An application from code; `PLEXUS_*` environment variables fill what the code leaves out. */
  static create(config: PlexusConfigInput = {}): Plexus {
    return new Plexus(resolveConfig({ code: config, env: process.env }));
  }

  /** An application from `plexus.yaml` or `.json`; `overrides` (code) win over the environment and the file. */
  static async fromConfig(file = 'plexus.yaml', overrides?: PlexusConfigInput): Promise<Plexus> {
    const app = new Plexus(resolveConfig({ file: path.resolve(file), env: process.env, code: overrides }));
    await app.loader.loadPendingEsm();
    return app;
  }

  /** The current call's context inside a provider method, else undefined. */
  static context(): CallContext | undefined {
    return callStorage.getStore();
  }

  /** Runs `fn` so that every call it makes carries `attachments`. */
  static withAttachments<R>(attachments: Record<string, string>, fn: () => R): R {
    const outer = outgoingStorage.getStore();
    return outgoingStorage.run(outer ? { ...outer, ...attachments } : attachments, fn);
  }

  /** Adds plugins given as objects (in addition to config `plugins:`). */
  use(plugin: PluginDefinition): this {
    this.loader.addPlugin(plugin);
    return this;
  }

  /**
   * Adds work to run during `start()` after services are exported (and `provider.delay` passed)
   * but before they are registered: preloading caches, warming connections. Hooks run in order;
   * one that throws fails `start()` with PLEXUS_ERR_APP_START naming the hook.
   */
  onStart(name: string, hook: () => unknown): this {
    if (this.state !== 'created') throw AppErrors.STATE('add a startup hook', this.state);
    this.startupHooks.push({ name, run: hook });
    return this;
  }

  /** Provides a service: an object, or a class to instantiate. Call before `start()`. */
  provide(config: Omit<ServiceConfig, 'implementation'> & { implementation?: unknown }, implementation?: object): this {
    if (this.state !== 'created') throw AppErrors.STATE('provide a service', this.state);
    const impl = implementation ?? config.implementation;
    this.provided.push(this.loadImplementation({ ...config, implementation: impl } as ServiceConfig));
    return this;
  }

  /** The proxy of a reference declared under `references:` in the config. */
  reference<T = Record<string, (...args: unknown[]) => unknown>>(id: string): ServiceProxy<T> {
    let proxy = this.proxies.get(id);
    if (proxy === undefined) {
      const cfg = this.config.references[id];
      if (!cfg) {
        const known = Object.keys(this.config.references);
        throw AppErrors.NO_REFERENCE(id, known, suggest(id, known));
      }
      proxy = createProxy<T>(this.runtimeFor(id, cfg));
      this.proxies.set(id, proxy);
    }
    return proxy as ServiceProxy<T>;
  }

  /** A proxy for a reference given in code. The same config object gives the same proxy. */
  refer<T = Record<string, (...args: unknown[]) => unknown>>(config: ReferenceConfig): ServiceProxy<T> {
    const id = `${referenceKey(config)}`;
    let proxy = this.proxies.get(id);
    if (proxy === undefined) {
      proxy = createProxy<T>(this.runtimeFor(id, config));
      this.proxies.set(id, proxy);
    }
    return proxy as ServiceProxy<T>;
  }

  /** Calls a service without a TypeScript interface: `generic('demo.Greeter', { version }).$invoke('sayHello', ['ada'])`. */
  generic(iface: string, options: Omit<ReferenceConfig, 'interface'> = {}): GenericService {
    const config = { ...options, interface: iface } as ReferenceConfig;
    return createGeneric(this.runtimeFor(`generic:${referenceKey(config)}`, config));
  }

  /** Opens protocol servers, exports services, registers them, and checks references. */
  async start(): Promise<this> {
    if (this.state !== 'created') throw AppErrors.STATE('start', this.state);
    this.state = 'starting';
    try {
      await this.loader.loadPendingEsm();
      for (const p of this.provided) this.services.push(await this.exportService(p));
      const delay = Number(this.config.provider.delay ?? 0);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      for (const hook of this.startupHooks) {
        try {
          await hook.run();
        } catch (err) {
          throw AppErrors.START(`startup hook "${hook.name}"`, (err as Error)?.message ?? String(err));
        }
      }
      await this.registerAll();
      for (const [id, cfg] of Object.entries(this.config.references)) {
        const check = cfg.check ?? this.config.consumer.check ?? true;
        const runtime = this.runtimeFor(id, cfg);
        if (check && runtime.directory instanceof RegistryDirectory) await this.checkProviders(runtime.serviceKey, runtime.directory);
      }
      this.state = 'started';
      this.installSignalHandlers();
      return this;
    } catch (err) {
      this.state = 'started';
      await this.stop().catch(() => undefined);
      if (PlexusError.is(err)) throw err;
      throw AppErrors.START('start', (err as Error).message);
    }
  }

  /**
   * Graceful stop: unregister, tell consumers we are closing and refuse new calls with the
   * retryable SHUTTING_DOWN status, finish in-flight work up to `shutdownTimeout`, then close.
   */
  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  /** URLs of the services exported on network protocols (with the real port when port 0 was asked). */
  exportedUrls(): URL[] {
    return this.exporters.filter((e) => e.url.protocol !== 'injvm').map((e) => e.url);
  }

  private async doStop(): Promise<void> {
    this.state = 'stopping';
    this.removeSignalHandlers();
    const timeout = Number(this.config.provider.shutdownTimeout ?? CONFIG_DEFAULTS.provider.shutdownTimeout);
    for (const url of this.registered.splice(0)) {
      await this.registryInstance?.unregister(url).catch((err: Error) => this.logger.warn(`unregister failed: ${err.message}`));
    }
    const protocols = new Set<Protocol>();
    for (const e of this.exporters) protocols.add(this.protocol(e.url.protocol));
    await Promise.all([...protocols].map((p) => p.drain?.(timeout)));
    await Promise.all(this.services.map((s) => s.executor.drain?.(timeout)));
    for (const e of this.exporters.splice(0)) await e.unexport().catch(() => undefined);
    await Promise.all([...this.references.values()].map((r) => r.destroy()));
    await Promise.all(this.services.map((s) => s.executor.close?.()));
    await this.scope.close();
    this.state = 'stopped';
  }

  private loadImplementation(config: ServiceConfig): ProvidedService {
    let impl = config.implementation;
    let modulePath: string | undefined;
    if (typeof impl === 'string') {
      modulePath = require.resolve(path.resolve(this.config.baseDir, impl));
      try {
        impl = pickExport(require(modulePath), config.interface);
      } catch (err) {
        if (PlexusError.is(err)) throw err;
        throw AppErrors.IMPLEMENTATION(config.interface, `cannot load ${modulePath}: ${(err as Error).message}`);
      }
    }
    if (isClass(impl)) impl = new impl();
    if (impl === null || typeof impl !== 'object') {
      const what = typeof impl === 'function' ? 'a plain function' : String(impl);
      throw AppErrors.IMPLEMENTATION(config.interface, `expected an object or a class, got ${what}`);
    }
    return { config, target: impl as object, modulePath };
  }

  private protocolConfig(name: string): ProtocolConfig {
    return this.config.protocols.find((p) => p.name === name) ?? { name };
  }

  private protocol(name: string): Protocol {
    return this.scope.get<Protocol>('protocol', name, this.protocolConfig(name));
  }

  private async exportService(p: ProvidedService): Promise<ServiceRuntime> {
    const cfg = p.config;
    const key = serviceKey(cfg.interface, cfg.version, cfg.group);
    if (this.services.some((s) => s.serviceKey === key)) throw AppErrors.DUPLICATE_SERVICE(key);
    const table = new MethodTable(cfg.interface, p.target);
    const names = cfg.protocol ?? this.config.protocols.map((x) => x.name);
    const missing = names.filter((n) => !this.config.protocols.some((x) => x.name === n));
    if (missing.length) throw AppErrors.NO_PROTOCOL(missing, cfg.interface);
    const protocolCfgs = names.map((n) => this.protocolConfig(n));
    const scope = this.scope.child();
    const levels: Level[] = [this.config.provider, serviceLevel(cfg)];
    const filterNames = selectFilterNames(
      this.loader.activated('filter', 'provider').map((e) => e.name),
      asList(cfg.filter ?? this.config.provider.filter),
    );
    const filters = filterNames.map((n) => scope.get<Filter>('filter', n));
    const executorName = String(cfg.executor ?? this.config.provider.executor ?? 'direct');
    const executor = scope.create<Executor>('executor', executorName, {
      threads: cfg.threads ?? this.config.provider.threads,
      queues: cfg.queues ?? this.config.provider.queues,
      implementation: p.modulePath,
      interface: cfg.interface,
    });
    const params = {
      ...toUrlParams(levels, cfg.methods),
      application: this.config.application.name,
      side: 'provider',
      methods: table.names.join(','),
      pid: String(process.pid),
      timestamp: String(Date.now()),
    };
    const first = protocolCfgs[0] ?? { name: 'injvm' };
    const runtime = new ServiceRuntime(
      new URL(first.name, first.host ?? '127.0.0.1', first.port ?? 0, cfg.interface, params),
      cfg,
      table,
      [{ ...this.config.application, name: undefined }, ...levels],
      filters,
      executor,
    );
    // Always exported in-process too, so references in this app call it without a socket.
    this.exporters.push(await this.protocol('injvm').export(runtime, runtime.url.withProtocol('injvm')));
    for (const pc of protocolCfgs) {
      if (pc.name === 'injvm') continue;
      const host = pc.host ?? '127.0.0.1';
      const port = this.boundPorts.get(pc.name) ?? pc.port ?? this.protocol(pc.name).defaultPort;
      const url = new URL(pc.name, host, port, cfg.interface, params);
      const exporter = await this.protocol(pc.name).export(runtime, pc.path ? url.withParams({ path: pc.path }) : url);
      this.boundPorts.set(pc.name, exporter.url.port);
      if (runtime.url.protocol === pc.name) runtime.url = exporter.url;
      this.exporters.push(exporter);
      this.logger.info(`exported ${runtime.serviceKey} at ${exporter.url.protocol}://${exporter.url.address}`);
    }
    return runtime;
  }

  private registry(): Registry | undefined {
    const reg = this.config.registry;
    if (!reg || !reg.type) return undefined;
    if (!this.registryInstance) this.registryInstance = this.scope.get<Registry>('registry', reg.type, { ...reg });
    return this.registryInstance;
  }

  private async registerAll(): Promise<void> {
    const registry = this.registry();
    if (!registry) return;
    for (const e of this.exporters) {
      if (e.url.protocol === 'injvm') continue;
      await registry.register(e.url);
      this.registered.push(e.url);
    }
  }

  private runtimeFor(id: string, cfg: ReferenceConfig): ReferenceRuntime {
    let runtime = this.references.get(id);
    if (runtime) return runtime;
    if (this.state === 'stopping' || this.state === 'stopped') throw AppErrors.STATE('create a reference', this.state);
    const scope = this.scope.child();
    const protocolName = cfg.protocol ?? (cfg.url ? URL.parse(cfg.url.split(',')[0]).protocol : this.config.protocols[0]?.name ?? 'plexus');
    const levels: Level[] = [this.protocolConfig(protocolName), this.config.consumer, cfg];
    const key = serviceKey(cfg.interface, cfg.version, cfg.group);
    this.checkNames(levels, cfg.methods, Boolean(cfg.url) || !this.providesLocally(key));
    const consumerUrl = new URL('consumer', os.hostname(), 0, cfg.interface, {
      ...toUrlParams([this.config.consumer, cfg], cfg.methods),
      application: this.config.application.name,
      side: 'consumer',
      pid: String(process.pid),
    });
    const invokerFilterNames = selectFilterNames(
      this.loader.activated('filter', 'consumer').filter((e) => e.activate?.stage === 'invoker').map((e) => e.name),
      [],
    );
    const invokerFilters = invokerFilterNames.map((n) => scope.get<Filter>('filter', n));
    const wrap = (inv: Invoker) => (invokerFilters.length ? buildFilterChain(inv, invokerFilters) : inv);
    let directory: Directory;
    let ready: Promise<void> | undefined;
    if (cfg.url) {
      const invokers = cfg.url
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
        .map((u) => {
          const target = URL.parse(u);
          const providerUrl = new URL(target.protocol, target.host, target.port, cfg.interface, {
            ...target.params,
            ...consumerUrl.params,
          });
          return wrap(this.protocol(target.protocol).refer(providerUrl));
        });
      directory = new StaticDirectory(consumerUrl, invokers);
    } else if (this.providesLocally(key)) {
      const injvm = this.protocol('injvm') as InjvmProtocol;
      directory = new StaticDirectory(consumerUrl, [injvm.refer(new URL('injvm', '127.0.0.1', 0, cfg.interface, consumerUrl.params))]);
    } else if (this.registry()) {
      const registry = this.registry()!;
      const rd = new RegistryDirectory(
        consumerUrl,
        registry,
        (u) => wrap(this.protocol(u.protocol).refer(u.withParams({ ...consumerUrl.params, ...pickProviderParams(u) }))),
        this.logger,
      );
      rd.subscribe().catch((err: Error) => this.logger.error(`subscribe ${key} failed: ${err.message}`));
      directory = rd;
      ready = rd.ready;
    } else {
      throw AppErrors.NO_ROUTE(cfg.interface);
    }
    const filterNames = selectFilterNames(
      this.loader.activated('filter', 'consumer').filter((e) => e.activate?.stage !== 'invoker').map((e) => e.name),
      asList(cfg.filter ?? this.config.consumer.filter),
    );
    const filters = filterNames.map((n) => scope.get<Filter>('filter', n));
    runtime = new ReferenceRuntime(id, cfg, directory, scope, levels, filters, ready);
    this.references.set(id, runtime);
    return runtime;
  }

  /** `check: true`: waits (bounded) for the registry's first list and wants a provider in it. */
  private async checkProviders(key: string, directory: RegistryDirectory): Promise<void> {
    const waitMs = Number(this.config.consumer.checkTimeout ?? CHECK_TIMEOUT);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), waitMs);
    });
    const outcome = await Promise.race([directory.ready.then(() => 'ready' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw AppErrors.CHECK_FAILED(key, `the registry sent no provider list within ${waitMs} ms`);
    if (directory.all().length === 0) throw AppErrors.CHECK_FAILED(key, 'the registry lists none');
  }

  /**
   * Resolves the extension names a reference will use (reference level and each configured
   * method), so a misspelt name fails here with a suggestion instead of at the first call.
   */
  private checkNames(levels: Level[], methods: ReferenceConfig['methods'], remote: boolean): void {
    const check = (settings: ReturnType<typeof resolveMethodSettings>) => {
      this.loader.get('cluster', settings.cluster);
      this.loader.get('loadbalance', settings.loadbalance);
      // In-process calls pass arguments by reference: no codec is needed, so none is required.
      if (!remote) return;
      this.loader.get('serializer', settings.serializer);
      this.loader.get('compressor', settings.compressor);
    };
    check(resolveMethodSettings('*', levels));
    for (const [m, level] of Object.entries(methods ?? {})) check(resolveMethodSettings(m, [...levels, level]));
  }

  private providesLocally(key: string): boolean {
    return this.provided.some((p) => serviceKey(p.config.interface, p.config.version, p.config.group) === key);
  }

  private installSignalHandlers(): void {
    if (this.config.application.handleSignals === false || !this.exporters.some((e) => e.url.protocol !== 'injvm')) return;
    this.signalHandler = (signal) => {
      this.logger.info(`${signal} received: stopping gracefully`);
      this.stop().then(
        () => process.exit(0),
        (err: Error) => {
          this.logger.error(`stop failed: ${err.message}`);
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', this.signalHandler);
    process.once('SIGINT', this.signalHandler);
  }

  private removeSignalHandlers(): void {
    if (!this.signalHandler) return;
    process.removeListener('SIGTERM', this.signalHandler);
    process.removeListener('SIGINT', this.signalHandler);
    this.signalHandler = undefined;
  }
}

/** Service-level keys that become settings and URL params. */
function serviceLevel(cfg: ServiceConfig): Record<string, unknown> {
  const { implementation: _i, methods: _m, protocol: _p, interface: _f, executor: _e, threads: _t, queues: _q, ...rest } = cfg;
  return rest;
}

function asList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(String);
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function referenceKey(cfg: ReferenceConfig): string {
  return `${serviceKey(cfg.interface, cfg.version, cfg.group)}|${cfg.url ?? ''}|${JSON.stringify(cfg)}`;
}

/** Provider params a consumer adopts: identity and weight, not the provider's own call settings. */
function pickProviderParams(u: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['weight', 'warmup', 'timestamp', 'methods', 'version', 'group', 'path']) {
    const v = u.getParam(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A class (or a pre-ES2015 constructor whose prototype carries methods), as opposed to a plain function. */
function isClass(value: unknown): value is new () => object {
  if (typeof value !== 'function') return false;
  if (/^class[\s{]/.test(Function.prototype.toString.call(value))) return true;
  const proto = (value as { prototype?: object }).prototype;
  return proto !== undefined && Object.getOwnPropertyNames(proto).some((n) => n !== 'constructor');
}

const isImplementation = (v: unknown): boolean => isClass(v) || (typeof v === 'object' && v !== null);

/**
 * The implementation a module exports: `module.exports` itself when it is a class, `default`, a
 * single named export that is an object or a class (or one named after the interface) — otherwise
 * the module object, whose functions are then the methods (`module.exports = { sayHello() {} }`).
 */
function pickExport(mod: unknown, iface: string): unknown {
  if (mod === null || typeof mod !== 'object') return mod;
  const m = mod as Record<string, unknown>;
  if (m.default !== undefined) return m.default;
  const named = Object.keys(m).filter((k) => k !== '__esModule');
  if (named.length === 1 && isImplementation(m[named[0]])) return m[named[0]];
  const short = iface.split('.').pop()!;
  for (const k of named) if ((k === short || k === `${short}Impl` || k === `${short}Service`) && isImplementation(m[k])) return m[k];
  return mod;
}

import 'reflect-metadata';
import * as os from 'node:os';
import * as path from 'node:path';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { CONFIG_DEFAULTS, resolveConfig } from '../config';
import { parseRegistryUrl } from '../config/merge';
import { suggest } from '../errors/suggest';
import type { PlexusConfig, PlexusConfigInput, ReferenceConfig, RegistryConfig, ServiceConfig } from '../config/types';
import { NodeAvailability } from '../cluster/node-availability';
import { RegistryDirectory } from '../cluster/registry-directory';
import { InProcessRuleBook } from '../cluster/rule-book';
import { AppErrors, RegistryErrors } from '../errors/catalogue';
import { PlexusError } from '../errors/plexus-error';
import { ExtensionLoader } from '../extension/extension-loader';
import { ExtensionScope } from '../extension/extension-scope';
import { ConsoleLogger } from '../extension/logger';
import type { PluginDefinition } from '../extension/plugin';
import { callStorage, outgoingStorage, type CallContext, type CallOptions } from '../pipeline/call-context';
import identityPlugin from '../protocol/identity-compressor';
import injvmPlugin from '../protocol/injvm-protocol';
import { createGeneric, createProxy, type GenericService, type ServiceProxy } from '../proxy/proxy';
import { RegistryManager, type ManagedRegistry } from '../registry/registry-manager';
import { DEFAULT_REGISTRY, NO_REGISTRY, type Registry } from '../spi/registry';
import { serviceKey, type URL } from '../url/url';
import { loadImplementation, type ProvidedService } from './implementation-loader';
import { NameCheck } from './name-check';
import { ProcessSignals } from './process-signals';
import { Protocols } from './protocols';
import { ReferenceFactory, setReferenceFallback, type RegistryHandle } from './reference-factory';
import type { Fallback } from '../spi/tokens';
import type { ReferenceRuntime } from './reference-runtime';
import { ServiceExporter } from './service-exporter';
import { RULE_BOOK, Rules } from './rules';
import { TOKENS } from './tokens';
import { AppEvents, type PlexusEventListener } from './events';
import { AppAdmin } from './admin';
import { ADMIN } from '../spi/qos';

export { TOKENS } from './tokens';

type State = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

/** How long `check: true` waits for a registry's first provider list, ms. */
const CHECK_TIMEOUT = 5000;

/**
 * A Plexus application: the services it provides and the references it calls, over the plugins
 * its config names. `Plexus.fromConfig('plexus.yaml')` or `Plexus.create({...})`, then `start()`.
 *
 * The parts a reader can name, each resolved from the application's tsyringe container:
 * `loadImplementation` (implementation modules), `ServiceExporter` (the provider side),
 * `ReferenceFactory` (directories, routers, consumer filters), `RegistryManager` (every registry,
 * cache, snapshot, retries), `NameCheck` (extension names at start) and `ProcessSignals`.
 */
export class Plexus {
  readonly config: PlexusConfig;
  readonly container: DependencyContainer;
  readonly loader: ExtensionLoader;
  readonly logger: ConsoleLogger;
  private readonly scope: ExtensionScope;
  private readonly events: AppEvents;
  private state: State = 'created';
  private readonly provided: ProvidedService[] = [];
  private readonly exporter: ServiceExporter;
  private readonly factory: ReferenceFactory;
  private readonly protocols: Protocols;
  private readonly signals: ProcessSignals;
  private registryManager: RegistryManager | null | undefined;
  private readonly registered: URL[] = [];
  private readonly references = new Map<string, ReferenceRuntime>();
  private readonly proxies = new Map<string, unknown>();
  private readonly startupHooks: Array<{ name: string; run: () => unknown }> = [];
  private stopping?: Promise<void>;
  private rules_?: Rules;
  private stopRequested = false;
  /** The admin view of this application (DESIGN §11); it runs the `qos` server when configured. */
  private readonly admin: AppAdmin;

  private constructor(config: PlexusConfig) {
    this.config = config;
    this.logger = config.logLevel ? new ConsoleLogger(config.application.name, config.logLevel) : new ConsoleLogger(config.application.name);
    // The only touch of the root container: every application gets a child of its own.
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
    const c = this.container;
    c.register(TOKENS.config, { useValue: config });
    c.register(TOKENS.loader, { useValue: this.loader });
    c.register(TOKENS.logger, { useValue: this.logger });
    c.register(TOKENS.app, { useValue: this });
    c.register(TOKENS.scope, { useValue: this.scope });
    this.events = new AppEvents(this.logger);
    c.register(TOKENS.events, { useValue: this.events });
    c.register(TOKENS.availability, { useValue: new NodeAvailability(this.events) });
    c.register(TOKENS.registries, { useValue: { get: () => this.registries() } satisfies RegistryHandle });
    c.register(RULE_BOOK, { useValue: new InProcessRuleBook() });
    c.registerSingleton(Protocols);
    c.registerSingleton(ServiceExporter);
    c.registerSingleton(ReferenceFactory);
    this.admin = new AppAdmin({
      config,
      logger: this.logger,
      events: this.events,
      exporter: c.resolve(ServiceExporter),
      registered: this.registered,
      registries: () => this.registries(),
      references: () => this.references.values(),
      rules: () => this.rules,
      appReady: () => this.ready,
      stopping: () => this.stopRequested,
    });
    c.register(ADMIN, { useValue: this.admin });
    this.protocols = c.resolve(Protocols);
    this.exporter = c.resolve(ServiceExporter);
    this.factory = c.resolve(ReferenceFactory);
    this.signals = new ProcessSignals(this.logger, () => this.stop());
    for (const service of config.services) this.provided.push(loadImplementation(service, config.baseDir));
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

  /**
   * The current call's context inside a provider method (and everything it awaits): service,
   * method, attachments, remoteAddress, deadline and `signal`. Throws PLEXUS_ERR_APP_NO_CONTEXT
   * outside a provider call; `Plexus.currentContext()` answers undefined there instead.
   */
  static context(): CallContext {
    const ctx = callStorage.getStore();
    if (ctx === undefined) throw AppErrors.NO_CONTEXT();
    return ctx;
  }

  /** The current call's context, or undefined outside a provider call. */
  static currentContext(): CallContext | undefined {
    return callStorage.getStore();
  }

  /**
   * Runs `fn` so that every call it makes carries these options: `attachments` (merged over outer
   * ones), `timeout` (the whole call's budget in ms, replacing the configured one) and `signal`
   * (aborting it cancels the calls: they reject with CANCELLED and the provider's signal aborts).
   * Its first use switches on Node's async-context tracking for the consumer's options, which every
   * later promise of the process pays for (about a tenth more CPU per call in `npm run bench`):
   * for settings that hold for every call, prefer config (`timeout`, per-method keys).
   */
  static withCallOptions<R>(options: CallOptions, fn: () => R): R {
    const outer = outgoingStorage.getStore();
    const merged: CallOptions = outer
      ? {
          attachments: options.attachments ? { ...outer.attachments, ...options.attachments } : outer.attachments,
          timeout: options.timeout ?? outer.timeout,
          signal: options.signal ?? outer.signal,
        }
      : options;
    return outgoingStorage.run(merged, fn);
  }

  /** Shorthand of `withCallOptions({ attachments }, fn)`. */
  static withAttachments<R>(attachments: Record<string, string>, fn: () => R): R {
    return Plexus.withCallOptions({ attachments }, fn);
  }

  /**
   * Dynamic rules: `route(spec)`, `override(spec)`, `list(interface?)`, `remove(id)`. They are
   * written to every registry of the application (with `registry: none`, kept in this process for
   * its own references) and applied by running consumers within seconds
   * (docs/guide/dynamic-rules.md).
   */
  get rules(): Rules {
    return (this.rules_ ??= new Rules(() => this.registries(), this.container.resolve<InProcessRuleBook>(RULE_BOOK), this.logger, () => [
      ...this.provided.map((p) => p.config.interface),
      ...Object.values(this.config.references).map((r) => r.interface),
      ...[...this.references.values()].map((r) => r.config.interface),
    ]));
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
    this.provided.push(loadImplementation({ ...config, implementation: impl } as ServiceConfig, this.config.baseDir));
    return this;
  }

  /**
   * The proxy of a reference declared under `references:` in the config. `fallback` answers its
   * failed calls (through the `mock` filter of `@plexus/filters`); the latest one given wins.
   */
  reference<T = Record<string, (...args: unknown[]) => unknown>>(id: string, options?: { fallback?: Fallback }): ServiceProxy<T> {
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
    if (options?.fallback !== undefined) setReferenceFallback(this.references.get(id)!, options.fallback);
    return proxy as ServiceProxy<T>;
  }

  /** A proxy for a reference given in code. The same config object gives the same proxy. */
  refer<T = Record<string, (...args: unknown[]) => unknown>>(config: ReferenceConfig): ServiceProxy<T> {
    const id = referenceKey(config);
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

  /**
   * Checks every extension name, opens protocol servers, exports services, waits `delay`, runs the
   * startup hooks, registers, and checks references. A SIGTERM/SIGINT during start stops gracefully.
   */
  async start(): Promise<this> {
    if (this.state !== 'created') throw AppErrors.STATE('start', this.state);
    this.state = 'starting';
    if (this.servesNetwork()) {
      this.signals.install({
        signals: this.config.application.handleSignals !== false,
        errors: this.config.application.handleErrors !== false,
      });
    }
    try {
      await this.loader.loadPendingEsm();
      this.checkNames();
      await this.admin.start(this.scope);
      for (const p of this.provided) {
        await this.exporter.export(p);
        if (this.stopRequested) return this.abandonStart();
      }
      const delay = Number(this.config.provider.delay ?? 0);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      for (const hook of this.startupHooks) {
        if (this.stopRequested) return this.abandonStart();
        try {
          await hook.run();
        } catch (err) {
          throw AppErrors.START(`startup hook "${hook.name}"`, (err as Error)?.message ?? String(err));
        }
      }
      if (this.stopRequested) return this.abandonStart();
      await this.registerAll();
      for (const [id, cfg] of Object.entries(this.config.references)) {
        const check = cfg.check ?? this.config.consumer.check ?? true;
        const runtime = this.runtimeFor(id, cfg);
        if (!check) continue;
        if (runtime.directory instanceof RegistryDirectory) await this.checkProviders(runtime.serviceKey, runtime.directory);
        else if (cfg.url) await this.checkDirect(runtime);
      }
      if (this.stopRequested) return this.abandonStart();
      this.state = 'started';
      this.logger.info(`started ${this.config.application.name}`);
      this.events.emit('app:started', { application: this.config.application.name });
      return this;
    } catch (err) {
      this.state = 'started';
      this.signals.remove();
      await this.stop().catch(() => undefined);
      if (PlexusError.is(err)) throw err;
      throw AppErrors.START('start', (err as Error).message);
    }
  }

  /** A stop was asked for while starting: the start ends here and the stop takes over. */
  private abandonStart(): this {
    this.state = 'started';
    this.logger.info(`start of ${this.config.application.name} abandoned: stopping`);
    return this;
  }

  /**
   * Graceful stop (DESIGN §8): unregister, tell consumers we are closing and refuse new calls with
   * the retryable SHUTTING_DOWN status, finish in-flight work — `shutdownTimeout` bounds the whole
   * stop — then close. Safe to call more than once, and during `start()`.
   */
  stop(): Promise<void> {
    this.stopRequested = true;
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  /**
   * Listens to the application's lifecycle events (`app:started`, `provider:up`, `circuit:open`,
   * ... — the list is in `docs/guide/operations.md`); `'*'` receives every event. Listeners run
   * synchronously and must not throw (one that does is logged).
   */
  on(type: string, listener: PlexusEventListener): this {
    this.events.on(type, listener);
    return this;
  }

  /** Stops a listener given to `on`. */
  off(type: string, listener: PlexusEventListener): this {
    this.events.off(type, listener);
    return this;
  }

  /** True between the end of `start()` and the beginning of a stop: what a readiness probe asks. */
  get ready(): boolean {
    return this.state === 'started' && !this.stopRequested;
  }

  /** URLs of the services exported on network protocols (with the real port when port 0 was asked). */
  exportedUrls(): URL[] {
    return this.exporter.exportedUrls();
  }

  private async doStop(): Promise<void> {
    // A stop requested during start waits for the step in progress (a port being bound) to settle.
    while (this.state === 'starting') await new Promise((r) => setTimeout(r, 5));
    this.state = 'stopping';
    this.events.emit('app:stopping', { application: this.config.application.name });
    const timeout = Number(this.config.provider.shutdownTimeout ?? CONFIG_DEFAULTS.provider.shutdownTimeout);
    const deadline = Date.now() + timeout;
    for (const url of this.registered.splice(0)) {
      const removed = await this.registryManager?.unregister(url).then(
        () => true,
        (err: Error) => (this.logger.warn(`unregister failed: ${err.message}`), false),
      );
      if (removed) this.events.emit('service:unregistered', { service: url.serviceKey, url: url.toString() });
    }
    await this.exporter.drain(deadline);
    await this.exporter.close();
    await Promise.all([...this.references.values()].map((r) => r.destroy()));
    await this.registryManager?.close();
    await this.admin.close();
    await this.scope.close();
    this.signals.remove();
    this.state = 'stopped';
    this.logger.info(`stopped ${this.config.application.name}`);
    this.events.emit('app:stopped', { application: this.config.application.name });
  }

  private servesNetwork(): boolean {
    if (this.provided.length === 0) return false;
    return this.config.protocols.some((p) => p.name !== 'injvm');
  }

  private checkNames(): void {
    const check = new NameCheck(this.config, this.loader, this.protocols);
    check.pluginKeys();
    check.extensionOptions(this.scope);
    check.registries();
    for (const p of this.provided) check.service(p.config, this.exporter);
    for (const cfg of Object.values(this.config.references)) {
      const local = this.providesLocally(serviceKey(cfg.interface, cfg.version, cfg.group));
      check.reference(cfg, this.factory, Boolean(cfg.url) || !local);
    }
  }

  /** The registry manager over every configured registry, or null when none is configured. */
  private registries(): RegistryManager | null {
    if (this.registryManager !== undefined) return this.registryManager;
    const entries = configuredRegistries(this.config);
    // `registry: none` leaves no `registry:` entry and no embedded default; `registries:` still count.
    if (entries.length === 0 && this.config.registry?.type === NO_REGISTRY) return (this.registryManager = null);
    // None configured: the embedded default (one machine, a shared folder) when it is installed.
    if (entries.length === 0 && this.loader.has('registry', DEFAULT_REGISTRY)) entries.push({ type: DEFAULT_REGISTRY });
    if (entries.length === 0) return (this.registryManager = null);
    const managed: ManagedRegistry[] = entries.map((entry, i) => ({
      id: entry.id ?? (entries.length === 1 ? entry.type : `${entry.type}#${i}`),
      address: `${entry.type}://${entry.address ?? ''}`,
      backend: this.scope.create<Registry>('registry', entry.type, { ...entry }),
    }));
    // The snapshot is one file for all registries: the first entry that says where (or false) decides.
    const first = entries.find((e) => e.snapshot !== undefined) ?? entries[0];
    const snapshot =
      first.snapshot === false
        ? false
        : typeof first.snapshot === 'string'
          ? path.resolve(this.config.baseDir, first.snapshot)
          : path.join(os.homedir(), '.plexus', 'registry-cache', `${this.config.application.name}.json`);
    this.registryManager = new RegistryManager(managed, { logger: this.logger, snapshot });
    return this.registryManager;
  }

  /** Registers every exported service; one with its own `delay` is registered that much later. */
  private async registerAll(): Promise<void> {
    const manager = this.registries();
    if (!manager) return;
    await Promise.all(
      this.exporter.services.map(async (service) => {
        const delay = Number(service.config.delay ?? 0);
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (this.stopRequested || this.admin.isOffline(service.serviceKey)) return;
        for (const url of this.exporter.exportedUrls(service)) {
          await manager.register(url);
          this.registered.push(url);
          this.events.emit('service:registered', { service: url.serviceKey, url: url.toString() });
        }
      }),
    );
  }

  private runtimeFor(id: string, cfg: ReferenceConfig): ReferenceRuntime {
    let runtime = this.references.get(id);
    if (runtime) return runtime;
    if (this.state === 'stopping' || this.state === 'stopped') throw AppErrors.STATE('create a reference', this.state);
    const key = serviceKey(cfg.interface, cfg.version, cfg.group);
    const local = this.providesLocally(key);
    // Names first: a misspelt extension fails here with a suggestion, never as a failed call.
    new NameCheck(this.config, this.loader, this.protocols).reference(cfg, this.factory, Boolean(cfg.url) || !local);
    runtime = this.factory.create(id, cfg, local);
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
    if (outcome === 'timeout') {
      const manager = this.registries();
      if (manager && manager.unreachable(directory.subscription)) {
        throw RegistryErrors.UNREACHABLE(manager.registries.map((r) => r.address).join(', '), key);
      }
      throw AppErrors.CHECK_FAILED(key, `the registry sent no provider list within ${waitMs} ms`);
    }
    if (directory.all().length === 0) throw AppErrors.CHECK_FAILED(key, 'the registry lists none');
  }

  /** `check: true` with direct URLs: a provider must answer `$echo` within `checkTimeout`. */
  private async checkDirect(runtime: ReferenceRuntime): Promise<void> {
    const waitMs = Number(this.config.consumer.checkTimeout ?? CHECK_TIMEOUT);
    try {
      // The timeout is passed directly: withCallOptions would switch on its async context (a cost on every later promise).
      await runtime.call('$echo', ['check'], undefined, waitMs);
    } catch (err) {
      throw AppErrors.CHECK_FAILED(runtime.serviceKey, `no provider at ${runtime.config.url} answered: ${((err as Error)?.message ?? String(err)).split('\n')[0]}`);
    }
  }

  private providesLocally(key: string): boolean {
    return this.provided.some((p) => serviceKey(p.config.interface, p.config.version, p.config.group) === key);
  }
}

/** The registries a config names (`registry:` and `registries:`), `none` left out. */
function configuredRegistries(config: PlexusConfig): RegistryConfig[] {
  const entries: RegistryConfig[] = [];
  for (const r of [config.registry, ...(config.registries ?? [])]) {
    if (r === undefined || r === null) continue;
    const entry = typeof r === 'string' ? (parseRegistryUrl(r) as RegistryConfig | undefined) : r;
    if (entry && entry.type && entry.type !== NO_REGISTRY) entries.push(entry);
  }
  return entries;
}

function referenceKey(cfg: ReferenceConfig): string {
  return `${serviceKey(cfg.interface, cfg.version, cfg.group)}|${cfg.url ?? ''}|${JSON.stringify(cfg)}`;
}

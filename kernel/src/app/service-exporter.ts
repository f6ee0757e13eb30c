import { randomBytes } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import type { PlexusConfig, ServiceConfig } from '../config/types';
import { AppErrors } from '../errors/catalogue';
import type { ExtensionLoader } from '../extension/extension-loader';
import type { ExtensionScope } from '../extension/extension-scope';
import { selectFilterNames } from '../pipeline/filter-chain';
import { MethodTable } from '../pipeline/method-table';
import { toUrlParams } from '../pipeline/method-settings';
import type { Executor } from '../spi/executor';
import type { Filter } from '../spi/filter';
import type { Exporter } from '../spi/invoker';
import type { Logger } from '../spi/logger';
import type { Protocol } from '../spi/protocol';
import { DEFAULT_EXECUTOR } from '../spi/executor';
import { URL, serviceKey } from '../url/url';
import type { ProvidedService } from './implementation-loader';
import { Protocols } from './protocols';
import { ServiceRuntime } from './service-runtime';
import { TOKENS } from './tokens';
import type { AppEvents } from './events';
import { activatedFor, asList, keysPresent, serviceLevel, type Level } from './levels';

/**
 * The provider side of an application: builds each service's runtime (method table, provider
 * filters, executor) and exports it on its protocols — always in-process (`injvm`) too, so
 * references of the same application call it without a socket. Drains and unexports on stop.
 * Scope: one per application (resolved from its container).
 */
@injectable()
export class ServiceExporter {
  readonly services: ServiceRuntime[] = [];
  private readonly exporters: Exporter[] = [];
  private readonly boundPorts = new Map<string, number>();

  constructor(
    @inject(TOKENS.config) private readonly config: PlexusConfig,
    @inject(TOKENS.scope) private readonly scope: ExtensionScope,
    @inject(TOKENS.loader) private readonly loader: ExtensionLoader,
    @inject(TOKENS.logger) private readonly logger: Logger,
    @inject(Protocols) private readonly protocols: Protocols,
    @inject(TOKENS.events) private readonly events: AppEvents,
  ) {}

  /** The effective executor name of a service. */
  executorOf(cfg: ServiceConfig): string {
    return String(cfg.executor ?? this.config.provider.executor ?? DEFAULT_EXECUTOR);
  }

  /** The provider filter names of a service: activated defaults with the user's `filter:` applied. */
  filtersOf(cfg: ServiceConfig): string[] {
    const present = keysPresent([this.config.provider, serviceLevel(cfg)], cfg.methods);
    return selectFilterNames(
      this.loader
        .activated('filter', 'provider')
        .filter((e) => activatedFor(e.activate, 'provider', present))
        .map((e) => e.name),
      asList(cfg.filter ?? this.config.provider.filter),
    );
  }

  /** The protocol names a service exports on. */
  protocolsOf(cfg: ServiceConfig): string[] {
    const names = cfg.protocol ?? this.config.protocols.map((x) => x.name);
    const missing = names.filter((n) => !this.config.protocols.some((x) => x.name === n));
    if (missing.length) throw AppErrors.NO_PROTOCOL(missing, cfg.interface);
    return names;
  }

  async export(p: ProvidedService): Promise<ServiceRuntime> {
    const cfg = p.config;
    const key = serviceKey(cfg.interface, cfg.version, cfg.group);
    if (this.services.some((s) => s.serviceKey === key)) throw AppErrors.DUPLICATE_SERVICE(key);
    const table = new MethodTable(cfg.interface, p.target, asList(cfg.expose));
    const protocolCfgs = this.protocolsOf(cfg).map((n) => this.protocols.configOf(n));
    const scope = this.scope.child();
    const { levels, methods } = withGeneratedToken([this.config.provider, serviceLevel(cfg)], cfg.methods);
    const filters = this.filtersOf(cfg).map((n) => scope.get<Filter>('filter', n));
    const executorName = this.executorOf(cfg);
    const executor = scope.create<Executor>('executor', executorName, {
      threads: cfg.threads ?? this.config.provider.threads,
      queues: cfg.queues ?? this.config.provider.queues,
      implementation: p.modulePath,
      interface: cfg.interface,
    });
    const params = {
      ...toUrlParams(levels, methods),
      executor: executorName,
      application: this.config.application.name,
      side: 'provider',
      methods: table.names.join(','),
      pid: String(process.pid),
      timestamp: String(Date.now()),
    };
    const first = protocolCfgs[0] ?? { name: 'injvm' };
    const runtime = new ServiceRuntime(
      new URL(first.name, first.host ?? '127.0.0.1', first.port ?? 0, cfg.interface, params),
      methods === cfg.methods ? cfg : { ...cfg, methods },
      table,
      [{ ...this.config.application, name: undefined }, ...levels],
      filters,
      executor,
    );
    this.services.push(runtime);
    this.exporters.push(await this.protocols.get('injvm').export(runtime, runtime.url.withProtocol('injvm')));
    for (const pc of protocolCfgs) {
      if (pc.name === 'injvm') continue;
      const protocol = this.protocols.get(pc.name);
      const host = pc.host ?? '127.0.0.1';
      const port = this.boundPorts.get(pc.name) ?? pc.port ?? protocol.defaultPort;
      const url = new URL(pc.name, host, port, cfg.interface, params);
      const exporter = await protocol.export(runtime, pc.path ? url.withParams({ path: pc.path }) : url);
      this.boundPorts.set(pc.name, exporter.url.port);
      if (runtime.url.protocol === pc.name) runtime.url = exporter.url;
      this.exporters.push(exporter);
      const where = pc.path ? `unix:${pc.path}` : exporter.url.address;
      this.logger.info(`exported ${runtime.serviceKey} at ${exporter.url.protocol}://${where}`);
      this.events.emit('service:exported', { service: runtime.serviceKey, url: exporter.url.toString() });
    }
    return runtime;
  }

  /** URLs of the services exported on network protocols (with the real port when port 0 was asked). */
  exportedUrls(service?: ServiceRuntime): URL[] {
    return this.exporters.filter((e) => e.url.protocol !== 'injvm' && (service === undefined || e.invoker === service)).map((e) => e.url);
  }

  /**
   * Graceful stop of the provider side: protocols tell consumers "closing" and refuse new calls,
   * then in-flight work (in protocols and executors alike) gets until `deadline` (epoch ms) —
   * one budget for both, so `shutdownTimeout` bounds the whole wait.
   */
  async drain(deadline: number): Promise<void> {
    const protocols = new Set<Protocol>();
    for (const e of this.exporters) protocols.add(this.protocols.get(e.url.protocol));
    const left = () => Math.max(0, deadline - Date.now());
    await Promise.all([
      ...[...protocols].map((p) => p.drain?.(left())),
      ...this.services.map((s) => s.executor.drain?.(left())),
    ]);
  }

  /** Unexports every service and closes the executors. */
  async close(): Promise<void> {
    for (const e of this.exporters.splice(0)) await e.unexport().catch(() => undefined);
    await Promise.all(this.services.map((s) => s.executor.close?.()));
  }
}

/**
 * `token: true` (at provider defaults, service or method level) asks for a random token: one per
 * exported service is put in its place, so the provider's `token` filter checks it and the
 * provider URL publishes it through the registry (consumers send what the chosen provider's URL
 * says). A new one at each export: a restarted provider invalidates tokens taken from old URLs.
 * The config itself is not changed.
 */
function withGeneratedToken(levels: Level[], methods: ServiceConfig['methods']): { levels: Level[]; methods: ServiceConfig['methods'] } {
  const asks = (level: Level) => level?.token === true || level?.token === 'true';
  const methodsAsk = Object.values(methods ?? {}).some(asks);
  if (!methodsAsk && !levels.some(asks)) return { levels, methods };
  const token = randomBytes(18).toString('base64url');
  return {
    levels: levels.map((l) => (asks(l) ? { ...l, token } : l)),
    methods: methodsAsk ? Object.fromEntries(Object.entries(methods!).map(([m, l]) => [m, asks(l) ? { ...l, token } : l])) : methods,
  };
}

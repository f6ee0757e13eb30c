import * as os from 'node:os';
import { inject, injectable } from 'tsyringe';
import type { PlexusConfig, ReferenceConfig } from '../config/types';
import { NodeAvailability } from '../cluster/node-availability';
import { RegistryDirectory } from '../cluster/registry-directory';
import type { InProcessRuleBook } from '../cluster/rule-book';
import { AbstractDirectory, StaticDirectory, type RuleContext } from '../cluster/static-directory';
import { AppErrors } from '../errors/catalogue';
import type { ExtensionLoader } from '../extension/extension-loader';
import type { ExtensionScope } from '../extension/extension-scope';
import { buildFilterChain, selectFilterNames } from '../pipeline/filter-chain';
import { toUrlParams } from '../pipeline/method-settings';
import type { RegistryManager } from '../registry/registry-manager';

/** The application's registry manager, created on first use (plugins may be added until then); null without registries. */
export interface RegistryHandle {
  get(): RegistryManager | null;
}
import type { Directory } from '../spi/directory';
import type { Filter } from '../spi/filter';
import type { Invoker } from '../spi/invoker';
import type { Logger } from '../spi/logger';
import type { Router } from '../spi/router';
import { REFERENCE_FALLBACK, type Fallback, type FallbackHolder } from '../spi/tokens';
import { URL, serviceKey } from '../url/url';
import { activatedFor, asList, keysPresent, type Level } from './levels';
import { Protocols } from './protocols';
import { ReferenceRuntime } from './reference-runtime';
import { RULE_BOOK } from './rules';
import { TOKENS } from './tokens';
import type { AppEvents } from './events';

/** Provider params a consumer adopts: identity and weight, not the provider's own call settings. */
const PROVIDER_PARAMS = ['weight', 'warmup', 'timestamp', 'methods', 'version', 'group', 'path'];
/**
 * What identifies the provider itself: its value wins over the consumer's even when it has none,
 * so a reference's own `tag` never paints every provider (the tag router tells them apart by it)
 * and `provider.application` conditions see the provider's application.
 */
const PROVIDER_IDENTITY = ['tag', 'application'];

/** How a reference reaches its providers. */
export type Route = 'url' | 'injvm' | 'registry';

/**
 * Builds the consumer side of a reference: its directory (direct URLs, the in-process export, or
 * the registries), routers, consumer filters (cluster and invoker stages) and the runtime that
 * owns its calls. Scope: one per application (resolved from its container).
 */
@injectable()
export class ReferenceFactory {
  constructor(
    @inject(TOKENS.config) private readonly config: PlexusConfig,
    @inject(TOKENS.scope) private readonly scope: ExtensionScope,
    @inject(TOKENS.loader) private readonly loader: ExtensionLoader,
    @inject(TOKENS.logger) private readonly logger: Logger,
    @inject(TOKENS.registries) private readonly registryHandle: RegistryHandle,
    @inject(TOKENS.availability) private readonly availability: NodeAvailability,
    @inject(Protocols) private readonly protocols: Protocols,
    @inject(RULE_BOOK) private readonly ruleBook: InProcessRuleBook,
    @inject(TOKENS.events) private readonly events: AppEvents,
  ) {}

  /** The config levels of a reference, least specific first: protocol, consumer defaults, reference. */
  levelsOf(cfg: ReferenceConfig): Level[] {
    // The protocol block's serializer and compressor are the protocol's defaults, not the
    // consumer's choice: a provider's own (on its URL) beats them, as in Dubbo.
    const protocolLevel = this.protocols.configOf(this.protocolOf(cfg));
    const { serializer: _s, compressor: _c, ...rest } = (protocolLevel ?? {}) as Record<string, unknown>;
    return [protocolLevel === undefined ? undefined : rest, this.config.consumer, cfg];
  }

  /** The protocol a reference calls with: its own, its URL's, else the first configured one. */
  protocolOf(cfg: ReferenceConfig): string {
    return cfg.protocol ?? (cfg.url ? URL.parse(cfg.url.split(',')[0]).protocol : this.config.protocols[0]?.name ?? 'plexus');
  }

  routeOf(cfg: ReferenceConfig, providesLocally: boolean): Route {
    if (cfg.url) return 'url';
    if (providesLocally) return 'injvm';
    if (this.registryHandle.get()) return 'registry';
    throw AppErrors.NO_ROUTE(cfg.interface);
  }

  /** Cluster-stage and invoker-stage filter names, the user's `filter:` applied to both. */
  filtersOf(cfg: ReferenceConfig): { cluster: string[]; invoker: string[] } {
    const user = asList(cfg.filter ?? this.config.consumer.filter);
    const present = keysPresent(this.levelsOf(cfg), cfg.methods);
    const activated = this.loader.activated('filter', 'consumer').filter((e) => activatedFor(e.activate, 'consumer', present));
    const stage = (s: 'cluster' | 'invoker') => activated.filter((e) => (e.activate?.stage ?? 'cluster') === s).map((e) => e.name);
    const clusterNames = selectFilterNames(stage('cluster'), user);
    const invokerDefaults = stage('invoker');
    // A name the user adds belongs to the stage its plugin declares; unknown ones default to the cluster stage.
    const invokerNames = selectFilterNames(invokerDefaults, user).filter((n) => this.stageOf(n) === 'invoker');
    return { cluster: clusterNames.filter((n) => this.stageOf(n) !== 'invoker'), invoker: invokerNames };
  }

  routersOf(cfg: ReferenceConfig): string[] {
    return asList(cfg.router ?? this.config.consumer.router) ?? [];
  }

  create(id: string, cfg: ReferenceConfig, providesLocally: boolean): ReferenceRuntime {
    const scope = this.scope.child();
    // Filled by app.reference(id, { fallback }), possibly after start created the reference; the mock filter reads it.
    scope.container.register(REFERENCE_FALLBACK, { useValue: { fallback: undefined } satisfies FallbackHolder });
    const levels = this.levelsOf(cfg);
    const key = serviceKey(cfg.interface, cfg.version, cfg.group);
    const consumerUrl = new URL('consumer', os.hostname(), 0, cfg.interface, {
      ...toUrlParams([this.config.consumer, cfg], cfg.methods),
      application: this.config.application.name,
      side: 'consumer',
      pid: String(process.pid),
    });
    const filterNames = this.filtersOf(cfg);
    const invokerFilters = filterNames.invoker.map((n) => scope.get<Filter>('filter', n));
    const wrap = (inv: Invoker) => (invokerFilters.length ? buildFilterChain(inv, invokerFilters) : inv);
    const routers = this.routersOf(cfg).map((n) => scope.get<Router>('router', n));
    // Dynamic rules: a router a rule names is the reference's own instance, or created on demand when installed.
    const rules: RuleContext = {
      logger: this.logger,
      createRouter: (name) => (this.loader.has('router', name) ? scope.get<Router>('router', name) : undefined),
      source: this.ruleBook,
    };
    let directory: Directory;
    let ready: Promise<void> | undefined;
    switch (this.routeOf(cfg, providesLocally)) {
      case 'url': {
        const invokers = cfg
          .url!.split(',')
          .map((u) => u.trim())
          .filter(Boolean)
          .map((u) => {
            const target = URL.parse(u);
            const providerUrl = new URL(target.protocol, target.host, target.port, cfg.interface, { ...target.params, ...consumerUrl.params });
            return wrap(this.protocols.get(target.protocol).refer(providerUrl));
          });
        directory = new StaticDirectory(consumerUrl, invokers, routers, this.availability, rules);
        break;
      }
      case 'injvm': {
        const injvm = this.protocols.get('injvm');
        directory = new StaticDirectory(consumerUrl, [injvm.refer(new URL('injvm', '127.0.0.1', 0, cfg.interface, consumerUrl.params))], routers, undefined, rules);
        break;
      }
      default: {
        const registries = this.registryHandle.get()!;
        const rd = new RegistryDirectory(
          consumerUrl,
          registries,
          (u) => wrap(this.protocols.get(u.protocol).refer(u.withParams({ ...consumerUrl.params, ...pickProviderParams(u) }))),
          this.logger,
          routers,
          this.availability,
          { logger: this.logger, createRouter: rules.createRouter },
          this.events,
        );
        rd.subscribe().catch((err: Error) => this.logger.error(`subscribe ${key} failed: ${err.message}`));
        // The consumer is listed too (Dubbo's consumers category), for `plexus ls` and operators.
        registries.register(consumerUrl).catch((err: Error) => this.logger.warn(`registering consumer ${key} failed: ${err.message}`));
        directory = rd;
        ready = rd.ready;
      }
    }
    const filters = filterNames.cluster.map((n) => scope.get<Filter>('filter', n));
    const runtime = new ReferenceRuntime(id, cfg, directory, scope, levels, filters, ready);
    if (directory instanceof AbstractDirectory) directory.watchSettings((o) => runtime.setOverrides(o));
    return runtime;
  }

  private stageOf(name: string): 'cluster' | 'invoker' | undefined {
    return this.loader.entryOf('filter', name)?.activate?.stage;
  }
}

/** Gives a reference its fallback function (`app.reference(id, { fallback })`). */
export function setReferenceFallback(runtime: ReferenceRuntime, fallback: Fallback): void {
  runtime.scope.container.resolve<FallbackHolder>(REFERENCE_FALLBACK).fallback = fallback;
}

function pickProviderParams(u: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PROVIDER_PARAMS) {
    const v = u.getParam(k);
    if (v !== undefined) out[k] = v;
  }
  for (const k of PROVIDER_IDENTITY) out[k] = u.getParam(k) as string;
  return out;
}

import type { PlexusConfig, ReferenceConfig, ServiceConfig } from '../config/types';
import type { ExtensionLoader } from '../extension/extension-loader';
import { resolveMethodSettings } from '../pipeline/method-settings';
import { EXTENSION_POINTS } from '../spi/points';
import { NO_REGISTRY } from '../spi/registry';
import { ConfigErrors } from '../config/errors';
import { PLUGIN_KEYS } from '../config/schema';
import type { Protocols } from './protocols';
import type { ReferenceFactory } from './reference-factory';
import type { ServiceExporter } from './service-exporter';
import { keysPresent, serviceLevel, type Level } from './levels';

/**
 * Resolves every extension name an application will use — on the provider side (protocols and
 * what they require, executors, filters, codecs, registries) and on the consumer side (protocols,
 * clusters, load balancers, codecs, filters, routers, per method) — so a misspelt name fails
 * `start()` with the loader's "did you mean" instead of failing a call later. Runs once at start.
 */
export class NameCheck {
  private readonly checkedProtocols = new Set<string>();

  constructor(
    private readonly config: PlexusConfig,
    private readonly loader: ExtensionLoader,
    private readonly protocols: Protocols,
  ) {}

  /** A name of `point` that must resolve (throws PLEXUS_ERR_EXTENSION_NOT_FOUND with a suggestion). */
  name(point: string, name: string | undefined): void {
    const n = name ?? (EXTENSION_POINTS as Record<string, { default?: string }>)[point]?.default;
    if (n !== undefined) this.loader.get(point, n);
  }

  /** A protocol and the extensions it declares it requires (transport, serializer, compressor). */
  protocol(name: string): void {
    if (this.checkedProtocols.has(name)) return;
    this.checkedProtocols.add(name);
    this.name('protocol', name);
    const entry = this.loader.entryOf('protocol', name);
    const options: Record<string, unknown> = { ...this.config.extensions?.protocol?.[name], ...this.protocols.configOf(name) };
    for (const req of entry?.requires ?? this.loader.get('protocol', name).requires ?? []) {
      const chosen = options[req.option];
      this.name(req.point, typeof chosen === 'string' && chosen !== '' ? chosen : undefined);
    }
  }

  /** Every plugin-read key in the config (`tps`, `token`, ...) is claimed by a loaded extension. */
  pluginKeys(): void {
    const problems: string[] = [];
    for (const use of this.config.pluginKeys ?? []) {
      const owner = PLUGIN_KEYS[use.key];
      const claimed = this.loader.has(owner.point, owner.name) && (this.loader.get(owner.point, owner.name).keys ?? []).includes(use.key);
      if (!claimed) problems.push(`${use.at}: "${use.key}" is read by the ${owner.point} "${owner.name}" (${owner.plugin}), which is not installed`);
    }
    if (problems.length > 0) throw ConfigErrors.UNCLAIMED_KEY(problems);
  }

  /** Options given under `extensions.<point>.<name>` name an extension that exists, and fit its schema. */
  extensionOptions(scope: { checkOptions(point: string, name: string): void }): void {
    for (const [point, byName] of Object.entries(this.config.extensions ?? {})) {
      for (const name of Object.keys(byName ?? {})) {
        this.name(point, name);
        scope.checkOptions(point, name);
      }
    }
  }

  registries(): void {
    for (const r of [this.config.registry, ...(this.config.registries ?? [])]) {
      if (r && typeof r === 'object' && typeof r.type === 'string' && r.type !== NO_REGISTRY) this.name('registry', r.type);
    }
  }

  service(cfg: ServiceConfig, exporter: ServiceExporter): void {
    for (const p of exporter.protocolsOf(cfg)) this.protocol(p);
    this.name('executor', exporter.executorOf(cfg));
    for (const f of exporter.filtersOf(cfg)) this.name('filter', f);
    const first = exporter.protocolsOf(cfg)[0];
    const levels: Level[] = [first ? this.protocols.configOf(first) : undefined, this.config.provider, serviceLevel(cfg)];
    this.codecs(levels, cfg.methods);
    this.keysTakeEffect('provider', `service ${cfg.interface}`, keysPresent([this.config.provider, serviceLevel(cfg)], cfg.methods), exporter.filtersOf(cfg));
  }

  reference(cfg: ReferenceConfig, factory: ReferenceFactory, remote: boolean): void {
    const levels = factory.levelsOf(cfg);
    if (remote) {
      this.protocol(factory.protocolOf(cfg));
      for (const u of (cfg.url ?? '').split(',').map((s) => s.trim()).filter(Boolean)) this.protocol(u.slice(0, u.indexOf(':')));
    }
    const filters = factory.filtersOf(cfg);
    for (const f of [...filters.cluster, ...filters.invoker]) this.name('filter', f);
    this.keysTakeEffect('consumer', `reference ${cfg.interface}`, keysPresent(levels, cfg.methods), [...filters.cluster, ...filters.invoker]);
    for (const r of factory.routersOf(cfg)) this.name('router', r);
    const check = (settings: ReturnType<typeof resolveMethodSettings>) => {
      this.name('cluster', settings.cluster);
      this.name('loadbalance', settings.loadbalance);
      // In-process calls pass arguments by reference: no codec is needed, so none is required.
      if (!remote) return;
      this.name('serializer', settings.serializer || undefined);
      this.name('compressor', settings.compressor || undefined);
    };
    check(resolveMethodSettings('*', levels));
    for (const [m, level] of Object.entries(cfg.methods ?? {})) check(resolveMethodSettings(m, [...levels, level]));
  }

  /**
   * A key read by a filter that is not in this chain would do nothing: a consumer-side key on a
   * service (`circuitbreaker`, `actives`), or a key whose filter `filter:` removed. Refused at start.
   */
  private keysTakeEffect(side: 'consumer' | 'provider', where: string, present: ReadonlySet<string>, chain: readonly string[]): void {
    const problems: string[] = [];
    for (const key of present) {
      const owner = PLUGIN_KEYS[key];
      if (owner === undefined || owner.point !== 'filter' || chain.includes(owner.name)) continue;
      const entry = this.loader.entryOf('filter', owner.name);
      if (entry === undefined) continue; // not installed: pluginKeys() says so
      const sides = entry.activate?.side ?? [];
      const gates = entry.activate?.keys;
      const gate = gates === undefined ? undefined : Array.isArray(gates) ? gates : (gates as Record<string, readonly string[] | undefined>)[side];
      const why = !sides.includes(side)
        ? `runs on the ${sides.join(' and ') || 'other'} side only`
        : gate !== undefined && !gate.includes(key)
          ? `reads only ${gate.join(', ')} on the ${side} side`
          : `is removed by this ${side === 'provider' ? 'service' : 'reference'}'s \`filter:\` list`;
      problems.push(`${where}: "${key}" has no effect: the filter "${owner.name}" (${owner.plugin}) that reads it ${why}`);
    }
    if (problems.length > 0) throw ConfigErrors.KEY_NO_EFFECT(problems);
  }

  private codecs(levels: Level[], methods: ServiceConfig['methods']): void {
    const check = (settings: ReturnType<typeof resolveMethodSettings>) => {
      this.name('serializer', settings.serializer || undefined);
      this.name('compressor', settings.compressor || undefined);
    };
    check(resolveMethodSettings('*', levels));
    for (const [m, level] of Object.entries(methods ?? {})) check(resolveMethodSettings(m, [...levels, level]));
  }
}

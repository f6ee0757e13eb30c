import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExtensionErrors } from '../errors/catalogue';
import { PlexusError } from '../errors/plexus-error';
import type { Logger } from '../spi/logger';
import { EXTENSION_POINTS, isExtensionPoint } from '../spi/points';
import { suggest } from '../errors/suggest';
import {
  definitionFromClass,
  isPluginDefinition,
  type Activation,
  type ExtensionContext,
  type ExtensionDefinition,
  type PluginDefinition,
  type Requirement,
} from './plugin';
import { satisfies } from './semver';

/** What the loader knows about an extension before (and after) importing it. */
export interface ExtensionEntry {
  readonly point: string;
  readonly name: string;
  readonly id?: number;
  readonly activate?: Activation;
  readonly wrapper?: boolean;
  readonly requires?: readonly Requirement[];
  /** The package name or file that provides it. */
  readonly plugin: string;
  /** Absolute module path, imported on first use. */
  readonly modulePath?: string;
  definition?: ExtensionDefinition;
}

interface ManifestExtension {
  point: string;
  name: string;
  module: string;
  id?: number;
  activate?: Activation;
  wrapper?: boolean;
  requires?: Requirement[];
}

export const KERNEL_VERSION: string = readKernelVersion();

function readKernelVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/**
 * Finds extensions by point and name, importing plugin modules lazily.
 * Resolution of a name: plugins given explicitly (config `plugins:` or `use()`) → conventional
 * packages `@plexus/<point>-<name>`, `@plexus/<point>` (or the family `@plexus/<point>s`, e.g. `@plexus/filters`), `plexus-<point>-<name>` → a helpful miss.
 * Nothing scans node_modules wholesale. Scope: one per application.
 */
export class ExtensionLoader {
  private readonly entries = new Map<string, Map<string, ExtensionEntry>>();
  private readonly failures: string[] = [];
  private readonly probed = new Set<string>();
  private readonly searchRoots: string[];
  private readonly pendingEsm: Array<{ spec: string; file: string }> = [];

  constructor(
    private readonly baseDir: string,
    private readonly logger: Logger,
  ) {
    this.searchRoots = [...new Set([baseDir, process.cwd(), __dirname])];
  }

  /** Registers a plugin object given in code (`app.use(plugin)`). */
  addPlugin(plugin: PluginDefinition | Array<ExtensionDefinition | (new (ctx: ExtensionContext) => unknown)>, source = 'code'): void {
    const defs = Array.isArray(plugin)
      ? plugin.flatMap((d) => (typeof d === 'function' ? definitionsOf(d) : [d]))
      : plugin.extensions;
    const name = Array.isArray(plugin) ? source : plugin.name;
    if (!Array.isArray(plugin) && plugin.kernel && !satisfies(KERNEL_VERSION, plugin.kernel)) {
      throw ExtensionErrors.KERNEL_RANGE(name, plugin.kernel, KERNEL_VERSION);
    }
    for (const def of defs) this.addDefinition(def, name);
  }

  addDefinition(def: ExtensionDefinition, plugin: string): void {
    this.checkPoint(def.point, plugin);
    this.put({ point: def.point, name: def.name, id: def.id, activate: def.activate, wrapper: def.wrapper, requires: def.requires, plugin, definition: def });
  }

  /**
   * Adds a `plugins:` entry: a package name, a folder with a package.json, or a module file.
   * Failures are recorded and reported with the next miss instead of failing startup, unless `strict`.
   */
  addSpec(spec: string, strict = true): void {
    try {
      if (spec.startsWith('.') || path.isAbsolute(spec)) {
        const abs = path.resolve(this.baseDir, spec);
        if (fs.existsSync(path.join(abs, 'package.json'))) this.addPackageDir(abs, spec);
        else this.addModuleFile(abs, spec);
      } else {
        const dir = this.findPackage(spec);
        if (!dir) throw new Error(`package "${spec}" is not installed (looked from ${this.searchRoots[0]})`);
        this.addPackageDir(dir, spec);
      }
    } catch (err) {
      const e = PlexusError.is(err) ? err : ExtensionErrors.PLUGIN_LOAD(spec, (err as Error).message);
      this.failures.push(`${spec}: ${(err as Error).message.split('\n')[0]}`);
      if (strict) throw e;
      this.logger.warn(e.message);
    }
  }

  /** Imports ESM plugin files that `require` could not load. Call before first use when possible. */
  async loadPendingEsm(): Promise<void> {
    const importer = new Function('p', 'return import(p)') as (p: string) => Promise<unknown>;
    for (const { spec, file } of this.pendingEsm.splice(0)) {
      const mod = await importer(require('node:url').pathToFileURL(file).href);
      for (const def of definitionsOf(mod)) this.addDefinition(def, spec);
    }
  }

  /** The definition of `point`/`name`, importing its module if needed. Throws a helpful miss. */
  get(point: string, name: string): ExtensionDefinition {
    const entry = this.entry(point, name);
    if (!entry) throw this.miss(point, name);
    return this.materialize(entry);
  }

  has(point: string, name: string): boolean {
    return this.entry(point, name) !== undefined;
  }

  /** A serializer or compressor by wire id. */
  getById(point: string, id: number): ExtensionDefinition | undefined {
    const known = this.byId(point, id);
    if (known) return known;
    // Not among the plugins seen so far: read the manifests of the installed packages named for
    // this point (their package.json only; nothing is imported) — the ids live there, nowhere else.
    this.probeFamily(point);
    for (const pkg of this.conventionalPackages(point)) this.probe(pkg);
    return this.byId(point, id);
  }

  private byId(point: string, id: number): ExtensionDefinition | undefined {
    for (const e of this.entries.get(point)?.values() ?? []) {
      if (e.id !== id || e.wrapper) continue;
      const def = this.materialize(e);
      // The manifest is a lookup hint; the definition is the truth, and must agree.
      return def.id === id ? def : undefined;
    }
    return undefined;
  }

  /** Names known for a point, after probing the conventional family package. */
  names(point: string): string[] {
    this.probeFamily(point);
    for (const pkg of this.conventionalPackages(point)) this.probe(pkg);
    return [...(this.entries.get(point)?.values() ?? [])].filter((e) => !e.wrapper).map((e) => e.name).sort();
  }

  /** Extensions of `point` activated for `side`, in order. Only known plugins count. */
  activated(point: string, side: 'consumer' | 'provider'): ExtensionEntry[] {
    this.probeFamily(point);
    return [...(this.entries.get(point)?.values() ?? [])]
      .filter((e) => e.activate?.side.includes(side))
      .sort((a, b) => (a.activate?.order ?? 0) - (b.activate?.order ?? 0));
  }

  /** Wrappers of a point, in registration order. */
  wrappers(point: string): ExtensionDefinition[] {
    return [...(this.entries.get(point)?.values() ?? [])].filter((e) => e.wrapper).map((e) => this.materialize(e));
  }

  entryOf(point: string, name: string): ExtensionEntry | undefined {
    return this.entry(point, name);
  }

  /** Plugins that failed to load, as `spec: cause` lines. */
  loadFailures(): readonly string[] {
    return this.failures;
  }

  private entry(point: string, name: string): ExtensionEntry | undefined {
    const found = this.entries.get(point)?.get(name);
    if (found) return found;
    for (const pkg of [`@plexus/${point}-${name}`, `@plexus/${point}`, `@plexus/${point}s`, `plexus-${point}-${name}`]) {
      this.probe(pkg);
      const e = this.entries.get(point)?.get(name);
      if (e) return e;
    }
    return undefined;
  }

  /**
   * The family package of a point: `@plexus/<point>` (`@plexus/loadbalance`, `@plexus/cluster`,
   * `@plexus/router`) or its plural (`@plexus/filters`).
   */
  private probeFamily(point: string): void {
    this.probe(`@plexus/${point}`);
    this.probe(`@plexus/${point}s`);
  }

  private probe(pkg: string): void {
    if (this.probed.has(pkg)) return;
    this.probed.add(pkg);
    const dir = this.findPackage(pkg);
    if (!dir) return;
    try {
      this.addPackageDir(dir, pkg);
    } catch (err) {
      this.failures.push(`${pkg}: ${(err as Error).message.split('\n')[0]}`);
      this.logger.warn(`plugin "${pkg}" failed to load`, { error: err });
    }
  }

  /**
   * Installed packages whose names follow the convention for `point` (`@plexus/<point>-*`,
   * `plexus-<point>-*`): only folder names are read, and only to list what exists after a miss.
   */
  private conventionalPackages(point: string): string[] {
    const found = new Set<string>();
    for (const root of this.searchRoots) {
      let dir = root;
      for (;;) {
        const modules = path.join(dir, 'node_modules');
        for (const [folder, prefix, scope] of [[path.join(modules, '@plexus'), `${point}-`, '@plexus/'], [modules, `plexus-${point}-`, '']]) {
          try {
            for (const name of fs.readdirSync(folder)) if (name.startsWith(prefix)) found.add(`${scope}${name}`);
          } catch {
            // no such folder here
          }
        }
        const parent = path.dirname(dir);
        if (parent === dir) break;
        dir = parent;
      }
    }
    return [...found];
  }

  private findPackage(pkg: string): string | undefined {
    for (const root of this.searchRoots) {
      let dir = root;
      for (;;) {
        const candidate = path.join(dir, 'node_modules', pkg);
        if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
        const parent = path.dirname(dir);
        if (parent === dir) break;
        dir = parent;
      }
    }
    return undefined;
  }

  private addPackageDir(dir: string, spec: string): void {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      name?: string;
      plexus?: { kernel?: string; extensions?: ManifestExtension[] };
    };
    const name = pkg.name ?? spec;
    this.probed.add(name);
    const manifest = pkg.plexus;
    if (!manifest || !Array.isArray(manifest.extensions)) {
      throw ExtensionErrors.PLUGIN_LOAD(name, 'its package.json has no "plexus": { "extensions": [...] } manifest');
    }
    if (manifest.kernel && !satisfies(KERNEL_VERSION, manifest.kernel)) {
      throw ExtensionErrors.KERNEL_RANGE(name, manifest.kernel, KERNEL_VERSION);
    }
    for (const ext of manifest.extensions) {
      this.checkPoint(ext.point, name);
      this.put({
        point: ext.point,
        name: ext.name,
        id: ext.id,
        activate: ext.activate,
        wrapper: ext.wrapper,
        requires: ext.requires,
        plugin: name,
        modulePath: path.resolve(dir, ext.module),
      });
    }
  }

  private addModuleFile(file: string, spec: string): void {
    let mod: unknown;
    try {
      mod = require(file);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_REQUIRE_ESM') {
        this.pendingEsm.push({ spec, file });
        return;
      }
      throw err;
    }
    const defs = definitionsOf(mod);
    if (!defs.length) throw ExtensionErrors.PLUGIN_LOAD(spec, 'the module exports no definePlugin() result and no @extension class');
    for (const def of defs) this.addDefinition(def, spec);
  }

  private materialize(entry: ExtensionEntry): ExtensionDefinition {
    if (entry.definition) return entry.definition;
    let mod: unknown;
    try {
      mod = require(entry.modulePath!);
    } catch (err) {
      this.failures.push(`${entry.plugin}: ${(err as Error).message.split('\n')[0]}`);
      throw ExtensionErrors.PLUGIN_LOAD(entry.plugin, `cannot import ${entry.modulePath}: ${(err as Error).message.split('\n')[0]}`);
    }
    const def = definitionsOf(mod).find((d) => d.point === entry.point && d.name === entry.name);
    if (!def) throw ExtensionErrors.BAD_MODULE(entry.modulePath!, entry.point, entry.name);
    entry.definition = def;
    return def;
  }

  private put(entry: ExtensionEntry): void {
    let byName = this.entries.get(entry.point);
    if (!byName) this.entries.set(entry.point, (byName = new Map()));
    const existing = byName.get(entry.name);
    // The first registration wins, so explicit plugins shadow conventional ones found later.
    if (existing && existing.plugin !== entry.plugin) {
      this.logger.debug(`${entry.point} "${entry.name}" from ${entry.plugin} ignored: already provided by ${existing.plugin}`);
      return;
    }
    if (existing?.definition && !entry.definition) return;
    byName.set(entry.name, entry);
  }

  private checkPoint(point: string, plugin: string): void {
    if (!isExtensionPoint(point)) throw ExtensionErrors.UNKNOWN_POINT(point, plugin, Object.keys(EXTENSION_POINTS));
  }

  private miss(point: string, name: string): PlexusError {
    if (!isExtensionPoint(point)) return ExtensionErrors.UNKNOWN_POINT(point, '(lookup)', Object.keys(EXTENSION_POINTS));
    const available = this.names(point);
    return ExtensionErrors.NOT_FOUND(point, name, available, suggest(name, available), [...this.failures]);
  }
}

/** Every extension definition a module exports: definePlugin results, @extension classes, arrays. */
export function definitionsOf(mod: unknown): ExtensionDefinition[] {
  const out: ExtensionDefinition[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (value == null || depth > 2) return;
    if (isPluginDefinition(value) || (typeof value === 'object' && Array.isArray((value as PluginDefinition).extensions))) {
      out.push(...(value as PluginDefinition).extensions);
      return;
    }
    if (typeof value === 'function') {
      const def = definitionFromClass(value as new (ctx: ExtensionContext) => unknown);
      if (def) out.push(def);
      return;
    }
    if (Array.isArray(value)) {
      for (const v of value) visit(v, depth + 1);
      return;
    }
    if (typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      if ('default' in obj) visit(obj.default, depth + 1);
      for (const [k, v] of Object.entries(obj)) if (k !== 'default' && typeof v === 'function') visit(v, depth + 1);
      if (typeof obj.point === 'string' && typeof obj.name === 'string' && typeof obj.create === 'function') {
        out.push(obj as unknown as ExtensionDefinition);
      }
    }
  };
  visit(mod, 0);
  // A module may export the same definition twice (default and named).
  return [...new Set(out)];
}

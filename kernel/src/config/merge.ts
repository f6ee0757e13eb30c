import { DEFAULT_PROTOCOL } from '../spi/protocol';
import { NO_REGISTRY } from '../spi/registry';
import type { ConfigSource } from './types';
import { formatPath, isPlainObject, type KeyPath } from './key-path';

/**
 * Merges config layers (file, env, code) into one tree while remembering, for every node, which
 * layer set it and under which key path the user wrote it, so messages point at the right line or
 * variable and `--explain` can say why. Internal to the config module.
 */

/** One source of config data. */
export interface Layer {
  readonly source: Exclude<ConfigSource, 'default'>;
  readonly data: Record<string, unknown>;
  /** Where the user wrote a key path of this layer: `plexus.yaml:12:5`, `PLEXUS_CONSUMER_TIMEOUT`, or undefined (code). */
  describe(layerPath: KeyPath): string | undefined;
  /** The start of a problem line: `plexus.yaml:12:5 consumer.timeout`, `PLEXUS_CONSUMER_TIMEOUT`, `consumer.timeout (set in code)`. */
  subject(layerPath: KeyPath): string;
  /** Orders problems: by line within a file, by name within the environment. */
  order(layerPath: KeyPath): string;
}

/** Which layer set a node, and the node's path in that layer and in the merged tree. */
export interface Origin {
  readonly layer: Layer | undefined;
  readonly source: ConfigSource;
  readonly layerPath: KeyPath;
  readonly targetPath: KeyPath;
}

/** A mistake found while merging (e.g. `PLEXUS_SERVICES_3_WEIGHT` with only one service). */
export interface MergeProblem {
  readonly origin: Origin;
  /** The path the message is about, in the merged tree. */
  readonly targetPath: KeyPath;
  readonly message: string;
}

/** List positions set one by one (`PLEXUS_SERVICES_0_WEIGHT`), merged into the list below instead of replacing it. */
export class IndexPatch {
  readonly items = new Map<number, unknown>();
}

/** Values merging never descends into: they are handed over as given. */
const OPAQUE_KEYS = new Set(['implementation']);


const REGISTRY_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^?#]*)(?:\?([^#]*))?$/;

/** The merged tree of one `resolveConfig` run and the origin of each of its nodes. Single use. */
export class ConfigMerger {
  readonly data: Record<string, unknown> = {};
  readonly problems: MergeProblem[] = [];
  private readonly origins = new Map<string, Origin>();

  /**
   * Merges a layer over what is there. Mappings merge key by key, lists and scalars replace,
   * `null` unsets. `protocols` replaces the list, then `protocol` merges into the entry of the same
   * name (or the only or first entry). A `registry` of another `type` replaces the registry.
   */
  apply(layer: Layer): void {
    const data = layer.data;
    if (data.protocols !== undefined) {
      const list = Array.isArray(data.protocols)
        ? data.protocols.map((p) => (typeof p === 'string' ? { name: p } : p))
        : data.protocols;
      this.mergeKey(this.data, 'protocols', list, ['protocols'], ['protocols'], layer);
    }
    if (data.protocol !== undefined) this.mergeProtocol(data.protocol, layer);
    for (const [key, value] of Object.entries(data)) {
      if (key === 'protocol' || key === 'protocols') continue;
      if (key === 'registry') this.mergeRegistry(value, layer);
      else this.mergeKey(this.data, key, value, [key], [key], layer);
    }
  }

  /** Sets a value where none is, recorded as a default. */
  setDefault(targetPath: KeyPath, value: unknown): void {
    let node: unknown = this.data;
    for (let n = 0; n < targetPath.length - 1; n++) {
      const seg = targetPath[n];
      const next = (node as Record<string | number, unknown>)[seg];
      if (next === undefined || next === null) {
        (node as Record<string | number, unknown>)[seg] = {};
        this.record(targetPath.slice(0, n + 1), undefined, []);
      }
      node = (node as Record<string | number, unknown>)[seg];
    }
    const last = targetPath[targetPath.length - 1];
    const holder = node as Record<string | number, unknown>;
    if (holder[last] === undefined || holder[last] === null) {
      holder[last] = value;
      this.record(targetPath, undefined, []);
    }
  }

  /** Sets a value derived from another (e.g. `registry.type` from a URL in `registry.address`), with that one's origin. */
  derive(targetPath: KeyPath, value: unknown, fromPath: KeyPath): void {
    const from = this.originOf(fromPath);
    this.replace(targetPath, value);
    this.clear(targetPath);
    if (from) this.origins.set(formatPath(targetPath), { ...from, targetPath });
  }

  /** Replaces a value after merging (normalisation), keeping its origin. */
  replace(targetPath: KeyPath, value: unknown): void {
    let node: unknown = this.data;
    for (const seg of targetPath.slice(0, -1)) node = (node as Record<string | number, unknown>)[seg];
    (node as Record<string | number, unknown>)[targetPath[targetPath.length - 1]] = value;
  }

  /** The origin of a node, or of the nearest ancestor that has one. */
  originOf(targetPath: KeyPath): Origin | undefined {
    for (let n = targetPath.length; n >= 0; n--) {
      const origin = this.origins.get(formatPath(targetPath.slice(0, n)));
      if (origin) return origin;
    }
    return undefined;
  }

  /** `origin.layerPath` extended by the part of `targetPath` below the origin: the path as the user wrote it. */
  static userPath(origin: Origin, targetPath: KeyPath): KeyPath {
    return [...origin.layerPath, ...targetPath.slice(origin.targetPath.length)];
  }

  private mergeKey(
    target: Record<string | number, unknown>,
    key: string | number,
    value: unknown,
    targetPath: KeyPath,
    layerPath: KeyPath,
    layer: Layer,
  ): void {
    if (value === undefined) return;
    if (value === null) {
      delete target[key];
      this.clear(targetPath);
      return;
    }
    const current = target[key];
    if (value instanceof IndexPatch) {
      this.mergePatch(target, key, value, targetPath, layerPath, layer);
      return;
    }
    if (isPlainObject(value) && isPlainObject(current) && !OPAQUE_KEYS.has(String(key))) {
      for (const [k, v] of Object.entries(value)) this.mergeKey(current, k, v, [...targetPath, k], [...layerPath, k], layer);
      return;
    }
    target[key] = this.adopt(value, targetPath, layerPath, layer);
  }

  private mergePatch(
    target: Record<string | number, unknown>,
    key: string | number,
    patch: IndexPatch,
    targetPath: KeyPath,
    layerPath: KeyPath,
    layer: Layer,
  ): void {
    let list = target[key];
    if (!Array.isArray(list)) {
      list = [];
      target[key] = list;
      this.clear(targetPath);
      this.record(targetPath, layer, layerPath);
    }
    const items = list as unknown[];
    for (const [index, value] of [...patch.items].sort((a, b) => a[0] - b[0])) {
      if (index > items.length) {
        const origin = this.record([...targetPath, index], layer, [...layerPath, index], false);
        this.problems.push({
          origin,
          targetPath: [...targetPath, index],
          message: `sets ${formatPath([...targetPath, index])}, but ${formatPath(targetPath)} has ${items.length} entr${items.length === 1 ? 'y' : 'ies'}; add entries in order from [${items.length}]`,
        });
        continue;
      }
      this.mergeKey(items as unknown as Record<number, unknown>, index, value, [...targetPath, index], [...layerPath, index], layer);
    }
  }

  private mergeProtocol(value: unknown, layer: Layer): void {
    if (value === null) return;
    const entry = typeof value === 'string' ? { name: value } : value;
    if (!isPlainObject(entry)) {
      // Left where it is, for validation to name.
      this.mergeKey(this.data, 'protocol', entry, ['protocol'], ['protocol'], layer);
      return;
    }
    // A `protocols` of the wrong shape stays for validation to name, rather than being overwritten.
    if (this.data.protocols !== undefined && !Array.isArray(this.data.protocols)) return;
    if (this.data.protocols === undefined) {
      this.data.protocols = [];
      this.clear(['protocols']);
      this.record(['protocols'], layer, ['protocol']);
    }
    const list = this.data.protocols as unknown[];
    const nameOf = (e: unknown) => (isPlainObject(e) && typeof e.name === 'string' ? e.name : DEFAULT_PROTOCOL);
    const wanted = typeof entry.name === 'string' ? entry.name : undefined;
    let index: number;
    let fresh = false;
    if (list.length === 0) {
      index = 0;
      fresh = true;
    } else if (list.length === 1) {
      // The only protocol: a different name means another protocol, whose options are its own.
      index = 0;
      fresh = wanted !== undefined && wanted !== nameOf(list[0]);
    } else {
      index = wanted === undefined ? 0 : list.findIndex((e) => nameOf(e) === wanted);
      if (index < 0) {
        index = list.length;
        fresh = true;
      }
    }
    const targetPath = ['protocols', index];
    if (fresh || !isPlainObject(list[index])) list[index] = this.adopt(entry, targetPath, ['protocol'], layer);
    else this.mergeKey(list as unknown as Record<number, unknown>, index, entry, targetPath, ['protocol'], layer);
  }

  private mergeRegistry(value: unknown, layer: Layer): void {
    let registry = value;
    // `registry: none` (or null in code) switches discovery off, the embedded default included.
    if (registry === null || (typeof registry === 'string' && /^\s*(none|n\/a)\s*$/i.test(registry))) {
      this.clear(['registry']);
      this.data.registry = this.adopt({ type: NO_REGISTRY }, ['registry'], ['registry'], layer);
      return;
    }
    if (typeof registry === 'string') registry = parseRegistryUrl(registry) ?? registry;
    const current = this.data.registry;
    if (
      isPlainObject(registry) &&
      isPlainObject(current) &&
      typeof registry.type === 'string' &&
      typeof current.type === 'string' &&
      registry.type !== current.type
    ) {
      this.data.registry = this.adopt(registry, ['registry'], ['registry'], layer);
      return;
    }
    this.mergeKey(this.data, 'registry', registry, ['registry'], ['registry'], layer);
  }

  /** Copies plain data from a layer (never sharing it), recording the origin of every node. */
  private adopt(value: unknown, targetPath: KeyPath, layerPath: KeyPath, layer: Layer): unknown {
    this.clear(targetPath);
    this.record(targetPath, layer, layerPath);
    if (OPAQUE_KEYS.has(String(targetPath[targetPath.length - 1]))) return value;
    if (value instanceof IndexPatch) {
      const list: unknown[] = [];
      for (const [index, item] of [...value.items].sort((a, b) => a[0] - b[0])) {
        list[index] = this.adopt(item, [...targetPath, index], [...layerPath, index], layer);
      }
      return list;
    }
    if (Array.isArray(value)) {
      return value.map((item, n) => this.adopt(item, [...targetPath, n], [...layerPath, n], layer));
    }
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || v === null) continue;
        out[k] = this.adopt(v, [...targetPath, k], [...layerPath, k], layer);
      }
      return out;
    }
    return value;
  }

  private record(targetPath: KeyPath, layer: Layer | undefined, layerPath: KeyPath, keep = true): Origin {
    const origin: Origin = { layer, source: layer?.source ?? 'default', layerPath, targetPath };
    if (keep) this.origins.set(formatPath(targetPath), origin);
    return origin;
  }

  private clear(targetPath: KeyPath): void {
    const prefix = formatPath(targetPath);
    for (const key of this.origins.keys()) {
      if (key === prefix || key.startsWith(`${prefix}.`) || key.startsWith(`${prefix}[`)) this.origins.delete(key);
    }
  }
}

/**
 * `zookeeper://127.0.0.1:2181,127.0.0.2:2181?sessionTimeout=5000` → `{ type, address, sessionTimeout }`;
 * `local:///var/plexus` → `{ type: 'local', address: '/var/plexus' }`. Undefined when it is not a URL.
 */
export function parseRegistryUrl(text: string): Record<string, unknown> | undefined {
  const m = REGISTRY_URL.exec(text.trim());
  if (!m) return undefined;
  const [, type, address, query] = m;
  const registry: Record<string, unknown> = { type: type.toLowerCase() };
  if (address) registry.address = decodeURIComponent(address);
  for (const part of (query ?? '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const raw = eq < 0 ? 'true' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    registry[key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === 'true' ? true : raw === 'false' ? false : raw;
  }
  return registry;
}

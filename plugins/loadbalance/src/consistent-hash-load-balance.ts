import { DEFAULT_WEIGHT, definePlugin, type Invocation, type Invoker, type LoadBalance, type Logger, type MethodSettings } from '@plexus/kernel/spi';
import { LoadBalanceErrors } from './errors';
import { hashEnd, hashOf, hashStart, hashValue } from './hash';

/** Default virtual nodes per provider: 160 (Dubbo's), enough that no provider owns much more than its share. */
export const CONSISTENT_HASH_NODES = 160;
/** Most virtual nodes per provider: a ring of 100 providers stays under 100,000 points (~1.2 MB). */
export const CONSISTENT_HASH_MAX_NODES = 1000;
/** Most argument indexes in a key, and the highest index: keys are meant to be a few arguments. */
export const CONSISTENT_HASH_MAX_ARGUMENTS = 16;
export const CONSISTENT_HASH_MAX_INDEX = 255;

/** The key settings of one method, parsed once from its params. */
export interface HashSettings {
  /** Indexes of the arguments hashed into the key. Default [0]. */
  readonly arguments: readonly number[];
  /** Virtual nodes per provider. Default 160. */
  readonly nodes: number;
}

const DEFAULT_SETTINGS: HashSettings = Object.freeze({ arguments: Object.freeze([0]), nodes: CONSISTENT_HASH_NODES });

/** Options of `ConsistentHashLoadBalance`. */
export interface ConsistentHashOptions {
  /** Where warnings about unusable `hash.*` values go. Default: nowhere (the plugin passes the app's logger). */
  logger?: Logger;
}

/** Position × 2^20 + list index, exact below 2^53: one typed sort orders positions and carries owners (lists up to 2^20 providers). */
const OWNER_SPAN = 1048576;

/**
 * A hash ring over one provider list: sorted positions of every provider's virtual nodes and the
 * list index owning each. Built once per list (and node count), searched in O(log n).
 */
class Ring {
  /** Base rings only: list position of each invoker, made when a sub-list is first derived. */
  private positions: Map<Invoker, number> | undefined;

  private constructor(
    readonly list: readonly Invoker[],
    readonly nodes: number,
    readonly points: Uint32Array,
    readonly owners: Int32Array,
  ) {}

  /** Hashes every virtual node of `list`: O(n·nodes·log(n·nodes)), about 3 ms at 100 providers. */
  static build(list: readonly Invoker[], nodes: number): Ring {
    const n = Math.min(list.length, OWNER_SPAN);
    // A drained provider (weight 0) takes no keys while another can; its keys go to their next owner.
    let eligible = 0;
    for (let i = 0; i < n; i++) if (list[i].url.getNumber('weight', DEFAULT_WEIGHT) > 0) eligible++;
    const useAll = eligible === 0;
    const count = useAll ? n : eligible;
    const packed = new Float64Array(count * nodes);
    const seen = new Map<string, number>();
    let k = 0;
    for (let i = 0; i < n; i++) {
      const url = list[i].url;
      if (!useAll && url.getNumber('weight', DEFAULT_WEIGHT) <= 0) continue;
      // A node's place on the ring depends only on its address, so it keeps its keys whatever else
      // joins or leaves; equal addresses (twins) are told apart by their rank among equals.
      const address = url.address;
      const twin = seen.get(address) ?? 0;
      seen.set(address, twin + 1);
      const base = twin === 0 ? `${address}#` : `${address}~${twin}#`;
      for (let v = 0; v < nodes; v++) packed[k++] = hashOf(base + v) * OWNER_SPAN + i;
    }
    packed.sort();
    const points = new Uint32Array(packed.length);
    const owners = new Int32Array(packed.length);
    for (let p = 0; p < packed.length; p++) {
      const point = Math.floor(packed[p] / OWNER_SPAN);
      points[p] = point;
      owners[p] = packed[p] - point * OWNER_SPAN;
    }
    return new Ring(list, nodes, points, owners);
  }

  /**
   * The ring of `list` when every provider in it is also on this ring: this ring's points minus
   * those of the providers left out — what a fresh build gives (a twin keeps the rank it had
   * here), in one pass and no hashing. Failover retries and skipped unavailable providers balance
   * over such sub-lists, made anew for each call. Undefined when `list` is not a subset, or
   * would own no point (only drained providers left).
   */
  derive(list: readonly Invoker[]): Ring | undefined {
    if (list.length >= this.list.length) return undefined;
    let positions = this.positions;
    if (positions === undefined) {
      positions = new Map();
      for (let i = 0; i < this.list.length; i++) positions.set(this.list[i], i);
      this.positions = positions;
    }
    const remap = new Int32Array(this.list.length).fill(-1);
    for (let i = 0; i < list.length; i++) {
      const at = positions.get(list[i]);
      if (at === undefined) return undefined;
      remap[at] = i;
    }
    let kept = 0;
    for (let p = 0; p < this.owners.length; p++) if (remap[this.owners[p]] >= 0) kept++;
    if (kept === 0) return undefined;
    const points = new Uint32Array(kept);
    const owners = new Int32Array(kept);
    let k = 0;
    for (let p = 0; p < this.owners.length; p++) {
      const to = remap[this.owners[p]];
      if (to < 0) continue;
      points[k] = this.points[p];
      owners[k++] = to;
    }
    return new Ring(list, this.nodes, points, owners);
  }

  /** The list index owning the first point at or after `hash`, wrapping around. */
  lookup(hash: number): number {
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === points.length ? 0 : lo];
  }
}

/**
 * Consistent hashing (Dubbo's `consistenthash`): calls with the same key — by default the first
 * argument — go to the same provider while the list is stable; when a provider leaves, only the
 * keys it owned move (to the next provider on the ring), and when one joins it takes about 1/n of
 * the keys from the others. Each provider has `hash.nodes` virtual nodes (default 160) placed by
 * the hash of its address. Weights are not followed (a key has one home), except that a drained
 * provider (weight 0) gets no keys while another can take them.
 *
 * Per-method keys: `hash.arguments` (comma list of argument indexes, default `0`) and `hash.nodes`;
 * or the mapping `hash: { arguments: [0, 1], nodes: 160 }`. An unusable value is logged once per
 * method with PLEXUS_ERR_LOADBALANCE_HASH_OPTION and its default used.
 *
 * Cost: the ring is built when the provider list (or node count) changes — O(n·nodes·log), about
 * 3 ms at 100 providers — and a select hashes the key arguments and binary-searches the ring:
 * O(log(n·nodes)), no allocation for string, number and byte-array keys. A list that is a subset
 * of the last built one (a failover retry skipping tried providers) gets its ring by filtering,
 * in one pass without hashing; a retry's key goes to the next provider along the ring.
 * Scope: one instance per reference; `select` is synchronous.
 */
export class ConsistentHashLoadBalance implements LoadBalance {
  private lastRing: Ring | undefined;
  /** The last ring built by hashing (not derived): sub-lists of its list are derived from it. */
  private baseRing: Ring | undefined;
  private readonly rings = new WeakMap<readonly Invoker[], Ring[]>();
  private lastSettings: MethodSettings | undefined;
  private lastParsed: HashSettings = DEFAULT_SETTINGS;
  private readonly parsed = new WeakMap<MethodSettings, HashSettings>();
  private readonly logger: Logger | undefined;

  constructor(options: ConsistentHashOptions = {}) {
    this.logger = options.logger;
  }

  select(invokers: readonly Invoker[], invocation: Invocation): Invoker {
    if (invokers.length === 1) return invokers[0];
    const settings = this.settingsOf(invocation.settings);
    const ring = this.ringOf(invokers, settings.nodes);
    return invokers[ring.lookup(keyHash(invocation.args, settings.arguments))];
  }

  /** The parsed `hash.*` settings of a method (cached per settings object, which every call of the method shares). */
  settingsOf(settings: MethodSettings): HashSettings {
    if (settings === this.lastSettings) return this.lastParsed;
    let parsed = this.parsed.get(settings);
    if (parsed === undefined) {
      parsed = parseHashSettings(settings, this.logger);
      this.parsed.set(settings, parsed);
    }
    this.lastSettings = settings;
    this.lastParsed = parsed;
    return parsed;
  }

  /** How many points the ring of `invokers` has for `invocation`'s method. For tests and diagnostics. */
  ringSize(invokers: readonly Invoker[], invocation: Invocation): number {
    return this.ringOf(invokers, this.settingsOf(invocation.settings).nodes).points.length;
  }

  private ringOf(invokers: readonly Invoker[], nodes: number): Ring {
    const last = this.lastRing;
    if (last !== undefined && last.list === invokers && last.nodes === nodes) return last;
    let rings = this.rings.get(invokers);
    let ring = rings?.find((r) => r.nodes === nodes);
    if (ring === undefined) {
      // A list never seen: most often the directory's list minus the providers a retry skips.
      const base = this.baseRing;
      ring = base !== undefined && base.nodes === nodes ? base.derive(invokers) : undefined;
      if (ring === undefined) {
        ring = Ring.build(invokers, nodes);
        this.baseRing = ring;
      }
      if (rings === undefined) this.rings.set(invokers, (rings = []));
      rings.push(ring);
    }
    this.lastRing = ring;
    return ring;
  }
}

/** The key of a call: the chosen arguments hashed in order (a missing argument hashes as undefined). */
export function keyHash(args: readonly unknown[], indexes: readonly number[]): number {
  let h = hashStart();
  for (let i = 0; i < indexes.length; i++) h = hashValue(h, args[indexes[i]]);
  return hashEnd(h);
}

/**
 * Reads `hash.arguments` / `hash.nodes` (and the `hash` mapping, whose entries they override) from
 * a method's params. A value that cannot be used is reported on `logger` and replaced by its default.
 */
export function parseHashSettings(settings: MethodSettings, logger?: Logger): HashSettings {
  const params = settings.params;
  let rawArguments: unknown = undefined;
  let rawNodes: unknown = undefined;
  const warn = (key: string, value: unknown, fallback: string) => {
    const err = LoadBalanceErrors.HASH_OPTION(settings.method, key, typeof value === 'string' ? value : JSON.stringify(value) ?? String(value), fallback);
    logger?.warn(err.message, { code: err.code });
  };
  const mapping = params.hash;
  if (mapping !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(mapping);
    } catch {
      value = undefined;
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      rawArguments = (value as Record<string, unknown>).arguments;
      rawNodes = (value as Record<string, unknown>).nodes;
    } else {
      warn('hash', mapping, 'arguments [0] and 160 nodes');
    }
  }
  if (params['hash.arguments'] !== undefined) rawArguments = params['hash.arguments'];
  if (params['hash.nodes'] !== undefined) rawNodes = params['hash.nodes'];

  let args: readonly number[] = DEFAULT_SETTINGS.arguments;
  if (rawArguments !== undefined) {
    const parsed = parseIndexes(rawArguments);
    if (parsed === undefined) warn('hash.arguments', rawArguments, 'argument 0');
    else args = parsed;
  }
  let nodes = CONSISTENT_HASH_NODES;
  if (rawNodes !== undefined) {
    const n = typeof rawNodes === 'number' ? rawNodes : typeof rawNodes === 'string' && /^\s*\d+\s*$/.test(rawNodes) ? Number(rawNodes) : NaN;
    if (Number.isInteger(n) && n >= 1 && n <= CONSISTENT_HASH_MAX_NODES) nodes = n;
    else warn('hash.nodes', rawNodes, `${CONSISTENT_HASH_NODES} nodes`);
  }
  if (args === DEFAULT_SETTINGS.arguments && nodes === CONSISTENT_HASH_NODES) return DEFAULT_SETTINGS;
  return Object.freeze({ arguments: args, nodes });
}

/** `0`, `"0,2"`, `[0, 2]` → [0, 2]; undefined when anything is not an index in range. */
function parseIndexes(raw: unknown): readonly number[] | undefined {
  const items: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'number' ? [raw] : typeof raw === 'string' ? raw.split(',') : [];
  if (items.length === 0 || items.length > CONSISTENT_HASH_MAX_ARGUMENTS) return undefined;
  const out: number[] = [];
  for (const item of items) {
    const n = typeof item === 'number' ? item : typeof item === 'string' && /^\s*\d+\s*$/.test(item) ? Number(item) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > CONSISTENT_HASH_MAX_INDEX) return undefined;
    out.push(n);
  }
  return Object.freeze(out);
}

export default definePlugin({
  name: '@plexus/loadbalance',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'loadbalance',
      name: 'consistenthash',
      keys: ['hash'],
      create: (ctx) => new ConsistentHashLoadBalance({ logger: ctx.logger }),
    },
  ],
});

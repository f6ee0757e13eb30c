import {
  loopNow,
  NODE_AVAILABILITY,
  RpcCode,
  RpcError,
  RpcInvocation,
  defineError,
  definePlugin,
  type ExtensionContext,
  type Filter,
  type Invocation,
  type Invoker,
  type Logger,
  type MethodSettings,
  type NodeAvailability,
  type Result,
} from '@plexus/kernel/spi';
import { isNeutral, isNodeFailure } from './circuitbreaker-filter';

/** A `health` value that cannot be used. */
export const HealthConfigError = defineError(
  'PLEXUS_ERR_HEALTH_CONFIG',
  (where: string, problem: string) => `health of ${where}: ${problem}`,
  'Write health: true, or an object of { minRate (percent, 1-100), window (ms), minCalls, failures, probeMs, probeTimeout (ms) }; see the "Health" section of the @plexus/filters README.',
);

/** The `reason` logged (and set on the suspension) when a node is taken out of rotation. */
export const HEALTH_SUSPENDED = 'PLEXUS_ERR_HEALTH_SUSPENDED';

/** The options of the health check, after defaults. */
export interface HealthPolicy {
  /** Percent of calls in the window that must succeed; below it (after `minCalls`) the node is suspended. Default 50. */
  readonly minRate: number;
  /** The window in ms, as 10 buckets. Default 30000: a health verdict is about minutes, not a burst. */
  readonly window: number;
  /** No rate verdict before this many calls in the window. Default 20. */
  readonly minCalls: number;
  /** This many network failures in a row suspend the node at once (a dead host, a dropped link). Default 3. */
  readonly failures: number;
  /** A suspended node is probed with `$echo` this often, in ms, until it answers. Default 2000. */
  readonly probeMs: number;
  /** How long one probe may take, in ms. Default 1000. */
  readonly probeTimeout: number;
}

export const HEALTH_DEFAULTS: HealthPolicy = Object.freeze({ minRate: 50, window: 30_000, minCalls: 20, failures: 3, probeMs: 2_000, probeTimeout: 1_000 });

const BUCKETS = 10;
/** Nodes tracked per reference; past it the oldest entry is dropped (providers that left). */
const MAX_NODES = 1024;
/** Numbers the filters, so each holds its own suspensions (one reference's restore does not undo another's). */
let instances = 0;

/** Parses a `health` value (`true`, or an object as JSON). Throws `PLEXUS_ERR_HEALTH_CONFIG`. */
export function parseHealthPolicy(raw: string | undefined, where: string): HealthPolicy | undefined {
  if (raw === undefined || raw === '' || raw === 'false') return undefined;
  if (raw === 'true') return HEALTH_DEFAULTS;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw HealthConfigError(where, `not true, false or an object (got ${JSON.stringify(raw.slice(0, 80))})`);
  }
  if (value === true) return HEALTH_DEFAULTS;
  if (value === false) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw HealthConfigError(where, `not true, false or an object (got ${raw.slice(0, 80)})`);
  const out: Record<string, number> = { ...HEALTH_DEFAULTS };
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (!Object.prototype.hasOwnProperty.call(HEALTH_DEFAULTS, k)) throw HealthConfigError(where, `unknown option "${k}" (known: ${Object.keys(HEALTH_DEFAULTS).join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 1) throw HealthConfigError(where, `${k} must be a number >= 1 (got ${JSON.stringify(v)})`);
    out[k] = v;
  }
  if (out.minRate > 100) throw HealthConfigError(where, `minRate is a percentage from 1 to 100 (got ${out.minRate})`);
  return Object.freeze(out) as unknown as HealthPolicy;
}

/** What is known of one node: a rolling window of calls and successes, network failures in a row, and its probe while suspended. */
class NodeHealth {
  readonly calls = new Array<number>(BUCKETS).fill(0);
  readonly ok = new Array<number>(BUCKETS).fill(0);
  head = 0;
  inARow = 0;
  probe: NodeJS.Timeout | undefined;
  probing = false;
  constructor(readonly address: string) {}

  reset(): void {
    this.calls.fill(0);
    this.ok.fill(0);
    this.inARow = 0;
  }

  /** Moves the window to `now` with buckets of `bucketMs`; returns the current index. */
  advance(now: number, bucketMs: number): number {
    const n = Math.floor(now / bucketMs);
    if (n > this.head) {
      const stale = Math.min(BUCKETS, n - this.head);
      for (let k = 1; k <= stale; k++) {
        const j = (this.head + k) % BUCKETS;
        this.calls[j] = 0;
        this.ok[j] = 0;
      }
      this.head = n;
    }
    return this.head % BUCKETS;
  }
}

function sum(a: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** Test seams. */
export interface HealthDeps {
  now?: () => number;
}

/**
 * Node health (consumer, invoker stage): a node whose success rate over `window` falls below
 * `minRate` (after `minCalls`), or that fails `failures` calls in a row with network errors, is
 * suspended through `NodeAvailability` for every reference of the application, and probed with the
 * built-in `$echo` every `probeMs` until a probe answers; then it is restored. Business errors
 * count as answers. Opt-in per method with `health`; elsewhere the call passes after one WeakMap
 * lookup. Scope: one instance per reference; called concurrently; `close()` stops its probes.
 */
export class HealthFilter implements Filter {
  private readonly byMethod = new WeakMap<MethodSettings, HealthPolicy | null | RpcError>();
  private readonly nodes = new Map<string, NodeHealth>();
  private readonly now: () => number;
  private readonly holder = `health#${++instances}`;
  private closed = false;

  constructor(
    private readonly availability: NodeAvailability | undefined,
    private readonly logger: Logger,
    deps: HealthDeps = {},
  ) {
    this.now = deps.now ?? loopNow;
  }

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    let policy = this.byMethod.get(invocation.settings);
    if (policy === undefined) policy = this.policyFor(invocation);
    if (policy === null) return next.invoke(invocation);
    if (policy instanceof RpcError) return Promise.reject(policy);
    const p = policy;
    return next.invoke(invocation).then(
      (result) => {
        this.record(p, next, invocation, undefined);
        return result;
      },
      (err: unknown) => {
        this.record(p, next, invocation, err);
        throw err;
      },
    );
  }

  /** Whether this filter holds `address` out of rotation (for tests and operators). */
  isSuspended(address: string): boolean {
    return this.nodes.get(address)?.probe !== undefined;
  }

  /** Stops every probe and lets go of this filter's suspensions. */
  close(): void {
    this.closed = true;
    for (const node of this.nodes.values()) this.stopProbing(node);
    this.nodes.clear();
  }

  private record(policy: HealthPolicy, next: Invoker, invocation: Invocation, err: unknown): void {
    if (this.closed) return;
    // The caller's own cancel, or a refusal by a limit, says nothing of the node.
    if (err !== undefined && isNeutral(err)) return;
    const address = next.url.address;
    let node = this.nodes.get(address);
    if (node === undefined) {
      if (this.nodes.size >= MAX_NODES) {
        const oldest = this.nodes.values().next().value as NodeHealth;
        this.stopProbing(oldest);
        this.nodes.delete(oldest.address);
      }
      this.nodes.set(address, (node = new NodeHealth(address)));
    }
    if (node.probe !== undefined) return; // already out; the probe decides
    const failed = err !== undefined && isNodeFailure(err);
    const i = node.advance(this.now(), Math.max(1, Math.ceil(policy.window / BUCKETS)));
    node.calls[i]++;
    if (!failed) node.ok[i]++;
    node.inARow = RpcError.is(err) && err.code === RpcCode.NETWORK ? node.inARow + 1 : 0;
    let why: string | undefined;
    if (node.inARow >= policy.failures) why = `${node.inARow} network failures in a row`;
    else {
      const calls = sum(node.calls);
      const rate = calls > 0 ? (sum(node.ok) * 100) / calls : 100;
      if (calls >= policy.minCalls && rate < policy.minRate) why = `${rate.toFixed(0)}% of ${calls} calls succeeded in ${policy.window} ms (minimum ${policy.minRate}%)`;
    }
    if (why !== undefined) this.suspend(node, policy, next, invocation, why);
  }

  private suspend(node: NodeHealth, policy: HealthPolicy, next: Invoker, invocation: Invocation, why: string): void {
    this.logger.warn(`node ${node.address} is unhealthy (${why}): out of rotation, probing with $echo every ${policy.probeMs} ms`, {
      code: HEALTH_SUSPENDED,
      address: node.address,
      service: invocation.service,
    });
    this.availability?.suspend(node.address, `unhealthy: ${why}`, 0, this.holder);
    node.probe = setInterval(() => void this.probeOnce(node, policy, next, invocation), policy.probeMs);
    node.probe.unref();
  }

  private async probeOnce(node: NodeHealth, policy: HealthPolicy, next: Invoker, sample: Invocation): Promise<void> {
    if (node.probing || node.probe === undefined) return;
    node.probing = true;
    const echo = new RpcInvocation({
      service: sample.service,
      method: '$echo',
      args: ['health'],
      attachments: {},
      version: sample.version,
      group: sample.group,
      serviceKey: sample.serviceKey,
      settings: Object.freeze({ ...sample.settings, method: '$echo', timeout: policy.probeTimeout, retries: 0, params: {} }),
      deadline: this.now() + policy.probeTimeout,
    });
    // Protocol invokers leave deadlines to the kernel: the probe holds its own.
    const timer = setTimeout(() => echo.cancel(new RpcError(`$echo probe of ${node.address} timed out`, RpcCode.TIMEOUT)), policy.probeTimeout);
    try {
      await next.invoke(echo);
      if (node.probe === undefined) return;
      this.logger.info(`node ${node.address} answered a probe: back in rotation`, { address: node.address });
      this.stopProbing(node);
    } catch {
      // Still down: the interval probes again.
    } finally {
      clearTimeout(timer);
      node.probing = false;
    }
  }

  private stopProbing(node: NodeHealth): void {
    if (node.probe === undefined) return;
    clearInterval(node.probe);
    node.probe = undefined;
    node.reset();
    this.availability?.restore(node.address, this.holder);
  }

  private policyFor(invocation: Invocation): HealthPolicy | null | RpcError {
    let policy: HealthPolicy | null | RpcError;
    try {
      policy = parseHealthPolicy(invocation.settings.params.health, `${invocation.serviceKey}.${invocation.method}`) ?? null;
    } catch (err) {
      this.logger.error((err as Error).message, { code: HealthConfigError.code });
      policy = new RpcError((err as Error).message, RpcCode.UNKNOWN, { retryable: false, reason: HealthConfigError.code, cause: err });
    }
    this.byMethod.set(invocation.settings, policy);
    return policy;
  }
}

function optional<T>(ctx: ExtensionContext, token: symbol): T | undefined {
  try {
    return ctx.inject<T>(token);
  } catch {
    return undefined;
  }
}

export default definePlugin({
  name: '@plexus/filters',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'health',
      keys: ['health'],
      activate: { side: ['consumer'], order: 100, stage: 'invoker', keys: ['health'] },
      create: (ctx: ExtensionContext) => new HealthFilter(optional<NodeAvailability>(ctx, NODE_AVAILABILITY), ctx.logger),
    },
  ],
});

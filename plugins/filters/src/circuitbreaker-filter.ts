import {
  loopNow,
  EVENTS,
  NODE_AVAILABILITY,
  RpcCode,
  RpcError,
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

/** The `reason` of the error an open circuit fails a call with. */
export const CIRCUIT_OPEN_REASON = 'PLEXUS_ERR_CIRCUIT_OPEN';

/** A `circuitbreaker` value that cannot be used. */
export const CircuitConfigError = defineError(
  'PLEXUS_ERR_CIRCUIT_CONFIG',
  (where: string, problem: string) => `circuitbreaker of ${where}: ${problem}`,
  'Write circuitbreaker: true, or an object of { errorRate (percent, 1-100), slowCallMs, slowRate (percent), window (ms), minCalls, openMs, probes }; see the "Circuit breaker" section of the @plexus/filters README.',
);

/** The options of one method's breakers, after defaults. */
export interface CircuitBreakerPolicy {
  /**
   * Percent of counted calls in the window that failed (timeouts, network, provider-side errors)
   * at or above which the circuit opens. Default 50: half the calls failing is past what retries
   * can hide, and well above the noise of a healthy node.
   */
  readonly errorRate: number;
  /** A successful call taking at least this many ms counts as slow. Default 0 = slow calls are not tracked. */
  readonly slowCallMs: number;
  /** Percent of slow calls in the window at or above which the circuit opens. Default 100 (only when every call is slow). */
  readonly slowRate: number;
  /** The rolling window in ms, kept as 10 buckets. Default 10000: long enough to gather `minCalls` at modest rates, short enough to react within seconds. */
  readonly window: number;
  /** No decision before this many calls in the window. Default 10: a rate of 2 calls out of 3 says little. */
  readonly minCalls: number;
  /** How long an open circuit refuses calls (and keeps the node out of rotation) before probing. Default 5000. */
  readonly openMs: number;
  /** Half-open: calls let through as probes; this many successes close the circuit, one failure re-opens it. Default 3. */
  readonly probes: number;
}

export const CIRCUIT_DEFAULTS: CircuitBreakerPolicy = Object.freeze({
  errorRate: 50,
  slowCallMs: 0,
  slowRate: 100,
  window: 10_000,
  minCalls: 10,
  openMs: 5_000,
  probes: 3,
});

const BUCKETS = 10;
/** Breakers kept per method; past it the least recently created is dropped (providers that left). */
const MAX_NODES = 1024;

/** Codes that say something about the node's health. Business errors and refusals by the caller's own limits do not. */
const COUNTED: ReadonlySet<string> = new Set<string>([
  RpcCode.TIMEOUT,
  RpcCode.SERVER_TIMEOUT,
  RpcCode.NETWORK,
  RpcCode.SERVER_ERROR,
  RpcCode.EXECUTOR_EXHAUSTED,
  RpcCode.BAD_RESPONSE,
]);

/**
 * Outcomes that say nothing about the node either way: the caller's own cancel, and a refusal by a
 * limit (an open circuit, a rate or concurrency limit, here or on the provider) — the call was not served or not tried.
 */
export function isNeutral(err: unknown): boolean {
  return RpcError.is(err) && (err.code === RpcCode.CANCELLED || err.code === RpcCode.LIMIT_EXCEEDED);
}

/** Whether a failure counts against a node (timeouts, network and provider-side failures). */
export function isNodeFailure(err: unknown): boolean {
  return RpcError.is(err) ? COUNTED.has(err.code) : false;
}

/** Parses a `circuitbreaker` value (as the config gives it: `true`, or an object as JSON). Throws `PLEXUS_ERR_CIRCUIT_CONFIG`. */
export function parseCircuitPolicy(raw: string | undefined, where: string): CircuitBreakerPolicy | undefined {
  if (raw === undefined || raw === '' || raw === 'false') return undefined;
  if (raw === 'true') return CIRCUIT_DEFAULTS;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw CircuitConfigError(where, `not true, false or an object (got ${JSON.stringify(raw.slice(0, 80))})`);
  }
  if (value === true) return CIRCUIT_DEFAULTS;
  if (value === false) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw CircuitConfigError(where, `not true, false or an object (got ${raw.slice(0, 80)})`);
  const out: Record<string, number> = { ...CIRCUIT_DEFAULTS };
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (!Object.prototype.hasOwnProperty.call(CIRCUIT_DEFAULTS, k)) {
      throw CircuitConfigError(where, `unknown option "${k}" (known: ${Object.keys(CIRCUIT_DEFAULTS).join(', ')})`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw CircuitConfigError(where, `${k} must be a number >= 0 (got ${JSON.stringify(v)})`);
    out[k] = v;
  }
  for (const k of ['errorRate', 'slowRate'] as const) {
    if (out[k] < 1 || out[k] > 100) throw CircuitConfigError(where, `${k} is a percentage from 1 to 100 (got ${out[k]}; 50 means half the calls)`);
  }
  for (const k of ['window', 'openMs', 'minCalls', 'probes'] as const) {
    if (out[k] < 1) throw CircuitConfigError(where, `${k} must be at least 1 (got ${out[k]})`);
  }
  out.minCalls = Math.ceil(out.minCalls);
  out.probes = Math.ceil(out.probes);
  return Object.freeze(out) as unknown as CircuitBreakerPolicy;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * The breaker of one provider node and one method: a rolling window of `BUCKETS` time buckets
 * counting calls, counted failures and slow calls (fixed memory), and the state machine
 * closed → open → half-open → closed. Not thread-safe in any sense that matters: one event loop.
 */
export class NodeCircuit {
  state: CircuitState = 'closed';
  /** Epoch ms when an open circuit starts letting probes through. */
  openUntil = 0;
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly failures = new Array<number>(BUCKETS).fill(0);
  private readonly slow = new Array<number>(BUCKETS).fill(0);
  private readonly bucketMs: number;
  /** Bucket number (time / bucketMs) of the newest bucket. */
  private head = 0;
  private probesOut = 0;
  private probesOk = 0;

  constructor(
    readonly policy: CircuitBreakerPolicy,
    readonly address: string,
  ) {
    this.bucketMs = Math.max(1, Math.ceil(policy.window / BUCKETS));
  }

  /** Whether a call may go now; moves open → half-open when `openMs` has passed. */
  acquire(now: number): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (now < this.openUntil) return false;
      this.state = 'half-open';
      this.probesOut = 0;
      this.probesOk = 0;
    }
    if (this.probesOut + this.probesOk >= this.policy.probes) return false;
    this.probesOut++;
    return true;
  }

  /** Records one finished call; returns the state it moved to, or undefined when it stayed. */
  record(now: number, failed: boolean, neutral: boolean, durationMs: number): CircuitState | undefined {
    if (this.state === 'half-open') {
      this.probesOut = Math.max(0, this.probesOut - 1);
      if (neutral) return undefined;
      // A probe that answers slowly (when slow calls are tracked) does not show a recovered node.
      if (failed || (this.policy.slowCallMs > 0 && durationMs >= this.policy.slowCallMs)) return this.open(now);
      if (++this.probesOk >= this.policy.probes) return this.close();
      return undefined;
    }
    if (neutral || this.state === 'open') return undefined;
    const i = this.advance(now);
    this.calls[i]++;
    if (failed) this.failures[i]++;
    else if (this.policy.slowCallMs > 0 && durationMs >= this.policy.slowCallMs) this.slow[i]++;
    return this.judge(now);
  }

  /** Calls, failures and slow calls in the window, for logs and tests. */
  counts(now: number): { calls: number; failures: number; slow: number } {
    this.advance(now);
    return { calls: sum(this.calls), failures: sum(this.failures), slow: sum(this.slow) };
  }

  private judge(now: number): CircuitState | undefined {
    const calls = sum(this.calls);
    if (calls < this.policy.minCalls) return undefined;
    const failed = (sum(this.failures) * 100) / calls;
    const slow = this.policy.slowCallMs > 0 ? (sum(this.slow) * 100) / calls : 0;
    if (failed >= this.policy.errorRate || (this.policy.slowCallMs > 0 && slow >= this.policy.slowRate)) return this.open(now);
    return undefined;
  }

  private open(now: number): CircuitState {
    this.state = 'open';
    this.openUntil = now + this.policy.openMs;
    this.probesOut = 0;
    this.probesOk = 0;
    return 'open';
  }

  private close(): CircuitState {
    this.state = 'closed';
    this.calls.fill(0);
    this.failures.fill(0);
    this.slow.fill(0);
    return 'closed';
  }

  /** Moves the window to `now`, clearing buckets that fell out of it; returns the current bucket's index. */
  private advance(now: number): number {
    const n = Math.floor(now / this.bucketMs);
    if (n > this.head) {
      const stale = Math.min(BUCKETS, n - this.head);
      for (let k = 1; k <= stale; k++) {
        const j = (this.head + k) % BUCKETS;
        this.calls[j] = 0;
        this.failures[j] = 0;
        this.slow[j] = 0;
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

let instances = 0;

/** The breakers of one method (one `MethodSettings`), by node address. */
interface MethodCircuits {
  readonly policy: CircuitBreakerPolicy;
  readonly nodes: Map<string, NodeCircuit>;
  /** The NodeAvailability holder of this method's suspensions. */
  readonly holder: string;
}

/** Where the breaker tells the application of state changes: the kernel's `AppEvents` (token `EVENTS`). */
export interface CircuitEventSink {
  emit(type: string, fields: Record<string, unknown>): void;
}

/** What the breaker may be given besides availability and logger. */
export interface CircuitBreakerDeps {
  /** Test seam: the clock. Default `Date.now`. */
  now?: () => number;
  /** Receives `circuit:open` / `circuit:close` (fields `service`, `method`, `address`, `reason`). Default: none. */
  events?: CircuitEventSink;
}

/**
 * Circuit breaker per provider node and method (consumer side, invoker stage: it sees the chosen
 * node). Active for a method only when `circuitbreaker` is set for it; elsewhere it passes the
 * call on after one WeakMap lookup. An open circuit fails calls at once with `LIMIT_EXCEEDED`
 * (retryable, reason `PLEXUS_ERR_CIRCUIT_OPEN`), and the node leaves the rotation of every
 * reference of the application for `openMs` (through `NodeAvailability`), so balancers pick other
 * nodes; then probes decide. Each change is told to the application as a `circuit:open` /
 * `circuit:close` event (`app.on`). Scope: one instance per reference; called concurrently.
 */
export class CircuitBreakerFilter implements Filter {
  private readonly byMethod = new WeakMap<MethodSettings, MethodCircuits | null | RpcError>();
  private readonly now: () => number;
  private readonly events: CircuitEventSink | undefined;
  /** Each filter (reference) holds its own suspensions: one reference's closed circuit does not undo another's open one. */
  private readonly id = ++instances;

  constructor(
    private readonly availability: NodeAvailability | undefined,
    private readonly logger: Logger,
    deps: CircuitBreakerDeps = {},
  ) {
    this.now = deps.now ?? loopNow;
    this.events = deps.events;
  }

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    let circuits = this.byMethod.get(invocation.settings);
    if (circuits === undefined) circuits = this.circuitsFor(invocation);
    if (circuits === null) return next.invoke(invocation);
    if (circuits instanceof RpcError) return Promise.reject(circuits);
    const address = next.url.address;
    let circuit = circuits.nodes.get(address);
    if (circuit === undefined) {
      if (circuits.nodes.size >= MAX_NODES) circuits.nodes.delete(circuits.nodes.keys().next().value as string);
      circuits.nodes.set(address, (circuit = new NodeCircuit(circuits.policy, address)));
    }
    const started = this.now();
    const before = circuit.state;
    if (!circuit.acquire(started)) return Promise.reject(openError(invocation, circuit, started));
    if (before === 'open') this.logger.info(`circuit half-open: ${invocation.service}.${invocation.method} on ${address}, probing`);
    const c = circuit;
    const m = circuits;
    return next.invoke(invocation).then(
      (result) => {
        this.finished(m, c, invocation, false, false, started);
        return result;
      },
      (err: unknown) => {
        const failed = isNodeFailure(err);
        const neutral = !failed && isNeutral(err);
        this.finished(m, c, invocation, failed, neutral, started);
        throw err;
      },
    );
  }

  /** The state of the breaker of `address` for the method of `settings`, for tests and operators. */
  stateOf(settings: MethodSettings, address: string): CircuitState | undefined {
    const m = this.byMethod.get(settings);
    return m && !(m instanceof RpcError) ? m.nodes.get(address)?.state : undefined;
  }

  private finished(m: MethodCircuits, c: NodeCircuit, invocation: Invocation, failed: boolean, neutral: boolean, started: number): void {
    const now = this.now();
    const moved = c.record(now, failed, neutral, now - started);
    if (moved === 'open') {
      const counts = c.counts(now);
      const why =
        counts.calls > 0
          ? `${counts.failures} of ${counts.calls} calls failed, ${counts.slow} slow, in ${m.policy.window} ms`
          : 'a half-open probe failed';
      this.logger.warn(`circuit open: ${invocation.service}.${invocation.method} on ${c.address} (${why}); refusing calls for ${m.policy.openMs} ms`, {
        code: CIRCUIT_OPEN_REASON,
        event: 'circuit:open',
        address: c.address,
        service: invocation.service,
        method: invocation.method,
      });
      this.availability?.suspend(c.address, `circuit open: ${invocation.service}.${invocation.method}`, m.policy.openMs, m.holder);
      this.events?.emit('circuit:open', { service: invocation.serviceKey || invocation.service, method: invocation.method, address: c.address, reason: why });
    } else if (moved === 'closed') {
      this.logger.info(`circuit closed: ${invocation.service}.${invocation.method} on ${c.address} (${m.policy.probes} probes succeeded)`, {
        event: 'circuit:close',
        address: c.address,
        service: invocation.service,
        method: invocation.method,
      });
      this.availability?.restore(c.address, m.holder);
      this.events?.emit('circuit:close', {
        service: invocation.serviceKey || invocation.service,
        method: invocation.method,
        address: c.address,
        reason: `${m.policy.probes} probes succeeded`,
      });
    }
  }

  private circuitsFor(invocation: Invocation): MethodCircuits | null | RpcError {
    let circuits: MethodCircuits | null | RpcError;
    try {
      const policy = parseCircuitPolicy(invocation.settings.params.circuitbreaker, `${invocation.serviceKey}.${invocation.method}`);
      circuits = policy === undefined ? null : { policy, nodes: new Map<string, NodeCircuit>(), holder: `circuitbreaker#${this.id}:${invocation.serviceKey}#${invocation.method}` };
    } catch (err) {
      // A bad value fails every call of the method with the config error (never silently unprotected), logged once.
      this.logger.error((err as Error).message, { code: CircuitConfigError.code });
      circuits = new RpcError((err as Error).message, RpcCode.UNKNOWN, { retryable: false, reason: CircuitConfigError.code, cause: err });
    }
    this.byMethod.set(invocation.settings, circuits);
    return circuits;
  }
}

function openError(invocation: Invocation, circuit: NodeCircuit, now: number): RpcError {
  const wait = circuit.state === 'open' ? `probes start in ${Math.max(0, circuit.openUntil - now)} ms` : 'half-open, its probes are in flight';
  return new RpcError(
    `Circuit open for ${invocation.service}.${invocation.method} on ${circuit.address} (${wait}): the node failed too many recent calls` +
      '\n  hint: another node is tried when retries allow; check the node, or tune circuitbreaker { errorRate, minCalls, openMs }.',
    RpcCode.LIMIT_EXCEEDED,
    { retryable: true, reason: CIRCUIT_OPEN_REASON, remote: circuit.address },
  );
}

export default definePlugin({
  name: '@plexus/filters',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'circuitbreaker',
      keys: ['circuitbreaker'],
      activate: { side: ['consumer'], order: 200, stage: 'invoker', keys: ['circuitbreaker'] },
      create: (ctx: ExtensionContext) =>
        new CircuitBreakerFilter(optional<NodeAvailability>(ctx, NODE_AVAILABILITY), ctx.logger, { events: optional<CircuitEventSink>(ctx, EVENTS) }),
    },
  ],
});

function optional<T>(ctx: ExtensionContext, token: symbol): T | undefined {
  try {
    return ctx.inject<T>(token);
  } catch {
    return undefined;
  }
}

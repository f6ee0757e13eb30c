import {
  definePlugin,
  RpcCode,
  RpcError,
  RpcInvocation,
  type CancelListener,
  type Cluster,
  type ClusterSupport,
  type Directory,
  type Invocation,
  type Invoker,
  type Result,
} from '@plexus/kernel/spi';
import { AbstractClusterInvoker, EMPTY_RESULT, type ClusterOptions } from './abstract-cluster-invoker';
import { ClusterErrors, describe, FAILBACK_FULL_REASON, failbackFullError, isRetryable, sendsStream } from './errors';

/**
 * Calls held for retry per reference, default 1000: enough to ride out a burst of notifications
 * during a provider restart of a few seconds, while bounding what the queue may hold (each entry
 * keeps its arguments) to what a reference sends in a burst.
 */
export const DEFAULT_QUEUE_SIZE = 1000;
/** Wait before the first retry, ms, default 5000 (Dubbo's failback period): time for a provider to come back. */
export const DEFAULT_RETRY_INTERVAL = 5000;
/**
 * Retries of one call before it is given up, default 0 = no limit: the queue keeps what it
 * accepted until it is delivered or the process stops (the policy's promise); a full queue then
 * refuses new failures loudly instead of dropping old ones.
 */
export const DEFAULT_MAX_ATTEMPTS = 0;
/** Backoff doubles per retry up to this many ms (or `retryInterval`, if longer): a provider back after an hour is retried within a minute. */
export const MAX_BACKOFF_MS = 60_000;
/** Distinct methods named in the report of abandoned calls; the rest are counted. */
const NAMED_METHODS = 20;

/** Options of `failback` (config: `extensions.cluster.failback`). */
export interface FailbackOptions extends ClusterOptions {
  /** Calls held for retry per reference (waiting and being retried). Default {@link DEFAULT_QUEUE_SIZE}. */
  queueSize?: number;
  /** Wait before the first retry, ms; doubles per retry up to {@link MAX_BACKOFF_MS}. Default {@link DEFAULT_RETRY_INTERVAL}. */
  retryInterval?: number;
  /** Retries per call before it is given up (logged); 0 = no limit. Default {@link DEFAULT_MAX_ATTEMPTS}. */
  maxAttempts?: number;
}

/** The JSON schema of `extensions.cluster.failback`, checked by the kernel when the cluster is created. */
export const FAILBACK_OPTIONS_SCHEMA = {
  type: 'object',
  properties: {
    queueSize: { type: 'integer', minimum: 1, description: `calls held for retry per reference (default ${DEFAULT_QUEUE_SIZE})` },
    retryInterval: { type: 'integer', minimum: 1, description: `ms before the first retry, doubling per retry (default ${DEFAULT_RETRY_INTERVAL})` },
    maxAttempts: { type: 'integer', minimum: 0, description: 'retries per call before giving up; 0 = no limit (default 0)' },
  },
  additionalProperties: false,
} as const;

function integer(options: FailbackOptions, key: 'queueSize' | 'retryInterval' | 'maxAttempts', fallback: number, minimum: number): number {
  const v = options[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < minimum) throw ClusterErrors.FAILBACK_OPTION(key, v, `an integer of at least ${minimum}`);
  return v;
}

/**
 * Failback: one attempt; when it fails with a retryable error (network, timeout, shutting down,
 * executor exhausted, no provider), the call goes to a bounded retry queue and the caller gets an
 * empty result at once. Queued calls are retried on a timer (unref'd: it never keeps the process
 * alive) with backoff, on another provider when there is one. Nothing accepted is dropped
 * silently: a full queue is a coded error to the caller (PLEXUS_ERR_CLUSTER_FAILBACK_FULL), a call
 * given up is logged (PLEXUS_ERR_CLUSTER_FAILBACK_DROPPED), and what is still queued when the
 * application stops is logged (PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED). Business errors and other
 * non-retryable errors reach the caller unchanged (a retry cannot fix them), and so does any
 * failure of a method marked `idempotent: false` (a retry could apply it twice).
 * For notifications whose delivery may be late but should not be lost.
 * Scope: one instance per application; one queue per reference.
 */
export class FailbackCluster implements Cluster {
  readonly queueSize: number;
  readonly retryInterval: number;
  readonly maxAttempts: number;
  private readonly joined = new Set<FailbackClusterInvoker>();

  constructor(private readonly options: FailbackOptions = {}) {
    this.queueSize = integer(options, 'queueSize', DEFAULT_QUEUE_SIZE, 1);
    this.retryInterval = integer(options, 'retryInterval', DEFAULT_RETRY_INTERVAL, 1);
    this.maxAttempts = integer(options, 'maxAttempts', DEFAULT_MAX_ATTEMPTS, 0);
  }

  join(directory: Directory, support: ClusterSupport): Invoker {
    const invoker = new FailbackClusterInvoker(directory, support, this, this.options);
    this.joined.add(invoker);
    return invoker;
  }

  /** Calls held for retry across every reference joined (waiting or being retried). */
  pending(): number {
    let n = 0;
    for (const i of this.joined) n += i.pending();
    return n;
  }

  /**
   * Called by the kernel when the application stops (the extension scope closes its instances):
   * stops every retry timer and logs what was still queued, per reference.
   */
  close(): void {
    for (const i of this.joined) i.abandon('the application stopped');
    this.joined.clear();
  }

  /** @internal A destroyed invoker leaves the set. */
  forget(invoker: FailbackClusterInvoker): void {
    this.joined.delete(invoker);
  }
}

/** One call held for retry. */
interface Entry {
  readonly invocation: Invocation;
  /** Retries made so far. */
  retries: number;
  dueAt: number;
  /** The provider that failed last: the next retry prefers another. */
  last: Invoker | undefined;
  error: RpcError;
}

/** The invoker `FailbackCluster.join` returns: its own queue and timer. */
export class FailbackClusterInvoker extends AbstractClusterInvoker {
  private readonly waiting: Entry[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerAt = 0;
  private closed = false;

  constructor(
    directory: Directory,
    support: ClusterSupport,
    private readonly cluster: FailbackCluster,
    options: ClusterOptions,
  ) {
    super(directory, support, options);
  }

  /** Calls held for retry: waiting for their turn or being retried now. */
  pending(): number {
    return this.waiting.length + this.running;
  }

  protected doInvoke(invocation: Invocation): Promise<Result> {
    const invokers = this.list(invocation);
    const lb = this.support.loadBalance(invocation);
    const invoker = this.select(lb, invokers, invocation);
    if (invocation.deadline <= 0) return this.attempt(lb, invoker, invocation).then(undefined, (err: unknown) => this.failed(err, invocation, invoker));
    const atDeadline = new QueueAtDeadline(this, invocation, invoker);
    invocation.addCancelListener(atDeadline);
    return this.attempt(lb, invoker, invocation).then(
      (result) => {
        invocation.removeCancelListener(atDeadline);
        return result;
      },
      (err: unknown) => {
        invocation.removeCancelListener(atDeadline);
        // Decided at the deadline (queued, or left to the TIMEOUT): the attempt's late failure changes nothing.
        if (atDeadline.heard) {
          if (atDeadline.queued) return EMPTY_RESULT;
          throw err;
        }
        return this.failed(err, invocation, invoker);
      },
    );
  }

  /** NO_PROVIDER (and a failing router) land here: queued like any other retryable failure. */
  protected override onThrown(err: unknown, invocation: Invocation): Promise<Result> {
    try {
      return Promise.resolve(this.failed(err, invocation, undefined));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** @internal Queues a failed call and answers the caller, or throws what the caller must see. */
  failed(err: unknown, invocation: Invocation, invoker: Invoker | undefined): Result {
    if (!isRetryable(err) || invocation.settings.idempotent === false || this.closed || sendsStream(invocation)) throw err;
    // The consumer aborted the call: it does not want it delivered later.
    if (invocation.cancelled !== undefined && invocation.cancelled.code === RpcCode.CANCELLED) throw err;
    if (this.pending() >= this.cluster.queueSize) throw failbackFullError(invocation, this.cluster.queueSize, err);
    this.waiting.push({ invocation, retries: 0, dueAt: Date.now() + this.cluster.retryInterval, last: invoker, error: err });
    this.schedule();
    return EMPTY_RESULT;
  }

  /** Logs what is still queued and stops retrying. Idempotent. */
  abandon(why: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const left = this.waiting.splice(0);
    const count = left.length + this.running;
    if (count === 0) return;
    const byMethod = new Map<string, number>();
    for (const e of left) {
      const name = `${e.invocation.method} (${e.error.code})`;
      byMethod.set(name, (byMethod.get(name) ?? 0) + 1);
    }
    const named = [...byMethod].slice(0, NAMED_METHODS).map(([m, n]) => `${m} ×${n}`);
    if (byMethod.size > NAMED_METHODS) named.push(`${byMethod.size - NAMED_METHODS} more methods`);
    if (this.running > 0) named.push(`${this.running} being retried (outcome not awaited)`);
    const e = ClusterErrors.FAILBACK_ABANDONED(this.url.serviceKey || this.url.path, count, `${named.join(', ')}; ${why}`);
    this.logger?.warn(e.message, { code: e.code, count });
  }

  /**
   * The kernel destroys the invokers a reference joined when the reference is destroyed: what is
   * still queued is reported (PLEXUS_ERR_CLUSTER_FAILBACK_ABANDONED), the timer stops, and this
   * invoker leaves its cluster's set. A failure after this reaches the caller (nothing retries it).
   */
  override async destroy(): Promise<void> {
    this.abandon('the reference was destroyed');
    this.cluster.forget(this);
    await super.destroy();
  }

  /** One timer for the earliest due entry; unref'd. */
  private schedule(): void {
    if (this.closed || this.waiting.length === 0) return;
    let earliest = Infinity;
    for (const e of this.waiting) if (e.dueAt < earliest) earliest = e.dueAt;
    if (this.timer !== undefined && this.timerAt <= earliest) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = earliest;
    this.timer = setTimeout(() => this.runDue(), Math.max(0, earliest - Date.now()));
    this.timer.unref();
  }

  private runDue(): void {
    this.timer = undefined;
    if (this.closed) return;
    const now = Date.now();
    const due: Entry[] = [];
    for (let i = 0; i < this.waiting.length; ) {
      if (this.waiting[i].dueAt <= now) due.push(this.waiting.splice(i, 1)[0]);
      else i++;
    }
    for (const e of due) this.retry(e);
    this.schedule();
  }

  /** One retry of a queued call, on a fresh invocation with the method's own timeout. */
  private retry(entry: Entry): void {
    this.running++;
    const invocation = freshCall(entry.invocation);
    const settings = invocation.settings;
    const watchdog = settings.timeout > 0 ? setTimeout(() => invocation.cancel(retryTimeout(invocation, settings.timeout)), settings.timeout) : undefined;
    watchdog?.unref();
    let invoker: Invoker | undefined;
    let running: Promise<Result>;
    try {
      const invokers = this.list(invocation);
      const lb = this.support.loadBalance(invocation);
      invoker = this.select(lb, invokers, invocation, entry.last !== undefined ? [entry.last] : undefined);
      running = this.attempt(lb, invoker, invocation);
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      () => {
        if (watchdog !== undefined) clearTimeout(watchdog);
        this.running--;
      },
      (err: unknown) => {
        if (watchdog !== undefined) clearTimeout(watchdog);
        this.running--;
        if (this.closed) return; // already reported as abandoned
        entry.retries++;
        entry.last = invoker;
        if (!isRetryable(err)) return this.drop(entry, `the retry failed with an error no retry can fix: ${describe(err)}`);
        entry.error = err;
        const max = this.cluster.maxAttempts;
        if (max > 0 && entry.retries >= max) return this.drop(entry, `maxAttempts (${max}) reached; last error: ${describe(err)}`);
        entry.dueAt = Date.now() + backoff(this.cluster.retryInterval, entry.retries);
        this.waiting.push(entry);
        this.schedule();
      },
    );
  }

  private drop(entry: Entry, why: string): void {
    const e = ClusterErrors.FAILBACK_DROPPED(entry.invocation, entry.retries, why);
    this.logger?.error(e.message, { code: e.code, service: entry.invocation.serviceKey || entry.invocation.service, method: entry.invocation.method });
  }
}

/**
 * Hears the kernel's TIMEOUT cancel of one call: the call is queued for retry like any other
 * retryable failure and the caller gets the empty result (`invocation.recover`). A full queue
 * answers with its coded LIMIT_EXCEEDED, as before the deadline; a call that may not be queued
 * (`idempotent: false`, the reference destroyed) leaves the caller the TIMEOUT.
 */
class QueueAtDeadline implements CancelListener {
  heard = false;
  queued = false;

  constructor(
    private readonly owner: FailbackClusterInvoker,
    private readonly invocation: Invocation,
    private readonly invoker: Invoker,
  ) {}

  onCancel(reason: RpcError): void {
    // The caller's own abort wants no answer and no delivery later.
    if (reason.code !== RpcCode.TIMEOUT) return;
    this.heard = true;
    let result: Result;
    try {
      result = this.owner.failed(reason, this.invocation, this.invoker);
    } catch (err) {
      if (!RpcError.is(err) || err.reason !== FAILBACK_FULL_REASON) return;
      const full = Promise.reject(err);
      // Handled here; the caller's call adopts it and sees the rejection.
      full.catch(() => undefined);
      this.invocation.recover({ value: full });
      return;
    }
    this.queued = true;
    this.invocation.recover(result);
  }
}

/** The wait before retry number `retries + 1`: the interval doubled per retry made, capped. */
export function backoff(interval: number, retries: number): number {
  const cap = Math.max(interval, MAX_BACKOFF_MS);
  return Math.min(cap, interval * 2 ** Math.min(retries, 30));
}

/** The queued call again, with a deadline of its own: the caller's passed long ago. */
function freshCall(original: Invocation): RpcInvocation {
  return new RpcInvocation({
    service: original.service,
    method: original.method,
    args: original.args,
    attachments: { ...original.attachments },
    version: original.version,
    group: original.group,
    serviceKey: original.serviceKey,
    settings: original.settings,
  });
}

function retryTimeout(invocation: Invocation, timeout: number): RpcError {
  return new RpcError(`failback retry of ${invocation.serviceKey || invocation.service}.${invocation.method} timed out after ${timeout} ms`, RpcCode.TIMEOUT);
}

export default definePlugin({
  name: '@plexus/cluster',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'cluster',
      name: 'failback',
      keys: ['sticky'],
      optionsSchema: FAILBACK_OPTIONS_SCHEMA as unknown as Record<string, unknown>,
      create: (ctx) => new FailbackCluster({ ...(ctx?.options as FailbackOptions | undefined), logger: ctx?.logger }),
    },
  ],
});

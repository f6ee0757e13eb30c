import { CONFIG, definePlugin, type CallInterceptor, type CancelListener, type ExtensionContext, type Filter, type Invocation, type Invoker, type Logger, type MethodSettings, type Result, type RpcError } from '@plexus/kernel/spi';
import { activesExceeded, ConcurrencyErrors, executesExceeded } from './concurrency-errors';
import { configRefusal } from './ratelimit-errors';
import { asParam, configLevels, ECHO } from './ratelimit-spec';

/**
 * How long before the call's deadline a waiting call gives up: the kernel's own deadline fires
 * at the deadline or up to one wheel tick after it, so giving up a little earlier lets the caller
 * see why (no slot) instead of a bare TIMEOUT.
 */
const GIVE_UP_EARLY_MS = 1;

/** One method's limit. */
interface Gate {
  run(next: Invoker, invocation: Invocation): Promise<Result>;
  /** The interceptor form of `run`: takes a slot (or refuses, or waits for one); `leave` gives it back. */
  enter(invocation: Invocation): void | Promise<void>;
  leave(): void;
}

/** Counts the calls of one method in flight; `start` runs one and frees its slot when it settles. */
abstract class CountingGate implements Gate {
  running = 0;

  constructor(readonly limit: number) {}

  abstract run(next: Invoker, invocation: Invocation): Promise<Result>;
  abstract enter(invocation: Invocation): void | Promise<void>;

  leave(): void {
    this.release();
  }

  protected start(next: Invoker, invocation: Invocation): Promise<Result> {
    this.running++;
    let p: Promise<Result>;
    try {
      p = next.invoke(invocation);
    } catch (err) {
      p = Promise.reject(err);
    }
    // The derived promise handles the rejection too, so nothing is left unhandled here; the caller gets `p`.
    p.then(this.release, this.release);
    return p;
  }

  protected readonly release = (): void => {
    this.running--;
    this.freed();
  };

  protected freed(): void {}
}

/** `executes` (provider): a call beyond the limit is refused at once, retryably. */
class ExecutesGate extends CountingGate {
  run(next: Invoker, invocation: Invocation): Promise<Result> {
    if (this.running >= this.limit) return Promise.reject(executesExceeded(invocation, this.limit));
    return this.start(next, invocation);
  }

  enter(invocation: Invocation): void {
    if (this.running >= this.limit) throw executesExceeded(invocation, this.limit);
    this.running++;
  }
}

/** A consumer call waiting for an `actives` slot: leaves the line on its deadline or its cancel. */
class Waiter implements CancelListener {
  done = false;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    /** The rest of the chain; undefined for an interceptor's wait, which only takes the slot. */
    readonly next: Invoker | undefined,
    readonly invocation: Invocation,
    readonly since: number,
    readonly resolve: (result: Promise<Result> | undefined) => void,
    readonly reject: (err: unknown) => void,
    readonly gate: ActivesGate,
  ) {}

  onCancel(reason: RpcError): void {
    if (this.done) return;
    this.finish();
    this.reject(reason);
  }

  readonly expire = (): void => {
    if (this.done) return;
    this.finish();
    this.invocation.removeCancelListener(this);
    this.reject(activesExceeded(this.invocation, this.gate.limit, Date.now() - this.since));
  };

  /** Leaves the line for good; its entry is skipped when it reaches the front. */
  finish(): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.gate.waiting--;
  }
}

/** `actives` (consumer): a call beyond the limit waits, first come first served, up to its deadline. */
class ActivesGate extends CountingGate {
  waiting = 0;
  private readonly line: Waiter[] = [];
  private head = 0;

  run(next: Invoker, invocation: Invocation): Promise<Result> {
    if (this.running < this.limit && this.waiting === 0) return this.start(next, invocation);
    return this.wait(next, invocation) as Promise<Result>;
  }

  enter(invocation: Invocation): void | Promise<void> {
    if (this.running < this.limit && this.waiting === 0) {
      this.running++;
      return;
    }
    return this.wait(undefined, invocation) as Promise<void>;
  }

  /** Queues the call until a slot frees (then runs `next`, or only takes the slot) or its deadline is near. */
  private wait(next: Invoker | undefined, invocation: Invocation): Promise<Result | void> {
    const now = Date.now();
    const deadline = invocation.deadline;
    if (deadline > 0 && deadline - GIVE_UP_EARLY_MS <= now) return Promise.reject(activesExceeded(invocation, this.limit, 0));
    return new Promise<Result | void>((resolve, reject) => {
      const w = new Waiter(next, invocation, now, resolve as (r: Promise<Result> | undefined) => void, reject, this);
      this.waiting++;
      this.line.push(w);
      invocation.addCancelListener(w);
      if (w.done) return; // already cancelled: addCancelListener told it at once
      if (deadline > 0) w.timer = setTimeout(w.expire, deadline - GIVE_UP_EARLY_MS - now);
    });
  }

  protected override freed(): void {
    while (this.running < this.limit && this.head < this.line.length) {
      const w = this.line[this.head];
      this.line[this.head++] = undefined as unknown as Waiter;
      if (w.done) continue;
      w.finish();
      w.invocation.removeCancelListener(w);
      if (w.next === undefined) {
        this.running++;
        w.resolve(undefined);
      } else w.resolve(this.start(w.next, w.invocation));
    }
    // Keep the line's array from growing with entries already served or gone.
    if (this.head === this.line.length) {
      this.line.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.line.length) {
      this.line.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** A value that cannot be used: every call of the method is refused with its coded error. */
class BrokenGate implements Gate {
  constructor(private readonly error: Error & { code?: string }) {}
  run(): Promise<Result> {
    return Promise.reject(configRefusal(this.error));
  }
  enter(): void {
    throw configRefusal(this.error);
  }
  leave(): void {}
}

/**
 * The `concurrency` filter: `executes` on the provider (calls of a method running at once; one
 * more is refused at once with a retryable LIMIT_EXCEEDED) and `actives` on the consumer (calls of
 * a method of a reference in flight; one more waits for a slot up to its deadline, then gets a
 * LIMIT_EXCEEDED). Both count per method; a call holds its slot until its outcome is known.
 *
 * Scope: one instance per service or reference chain, called concurrently. A method without the
 * key costs one WeakMap lookup per call.
 */
export class ConcurrencyFilter implements Filter {
  private readonly gates = new WeakMap<MethodSettings, Gate | null>();
  /** Gates by method and limit: settings replaced by dynamic rules keep counting in the same gate. */
  private readonly byKey = new Map<string, Gate>();

  constructor(private readonly logger: Logger) {}

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    const gate = this.gateFor(invocation);
    return gate === null ? next.invoke(invocation) : gate.run(next, invocation);
  }

  /** The callback form: a slot taken before the call, given back after it; no promise on the way. */
  readonly interceptor: CallInterceptor = {
    before: (invocation: Invocation): void | Promise<void> => {
      const gate = this.gateFor(invocation);
      return gate === null ? undefined : gate.enter(invocation);
    },
    after: (invocation: Invocation): void => {
      this.gates.get(invocation.settings)?.leave();
    },
  };

  private gateFor(invocation: Invocation): Gate | null {
    let gate = this.gates.get(invocation.settings);
    if (gate === undefined) {
      gate = this.gateOf(invocation);
      this.gates.set(invocation.settings, gate);
    }
    return gate;
  }

  private gateOf(invocation: Invocation): Gate | null {
    // The kernel's `$echo` (start checks, health probes) takes no slot from real calls.
    if (invocation.method === ECHO) return null;
    const provider = invocation.remoteAddress !== undefined;
    const key = provider ? 'executes' : 'actives';
    let limit: number;
    try {
      limit = limitOf(key, `${invocation.serviceKey || invocation.service}.${invocation.method}`, invocation.settings.params[key]);
    } catch (err) {
      this.logger.error((err as Error).message, { code: (err as { code?: string }).code });
      return new BrokenGate(err as Error);
    }
    if (limit === 0) return null;
    const id = `${invocation.method}\u0000${limit}`;
    let gate = this.byKey.get(id);
    if (gate === undefined) {
      gate = provider ? new ExecutesGate(limit) : new ActivesGate(limit);
      this.byKey.set(id, gate);
    }
    return gate;
  }
}

/** A whole number of calls, 0 (or unset) for no limit; throws PLEXUS_ERR_CONCURRENCY_CONFIG otherwise. */
function limitOf(key: string, where: string, raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 0;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 0) throw ConcurrencyErrors.CONFIG(key, where, raw);
  return limit;
}

/** Checks every `actives` and `executes` in the config when the filter is created: a bad value fails `start()`. */
function checkAtStart(ctx: ExtensionContext): void {
  let config: unknown;
  try {
    config = ctx.inject(CONFIG);
  } catch {
    return;
  }
  for (const { where, level } of configLevels(config)) {
    for (const key of ['actives', 'executes']) limitOf(key, where, asParam(level[key]));
  }
}

export default definePlugin({
  name: '@plexus/filters',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'concurrency',
      keys: ['actives', 'executes'],
      // After the rate limit (a refused call should not take a slot), before everything that does work.
      activate: { side: ['consumer', 'provider'], order: -800, stage: 'cluster', keys: { consumer: ['actives'], provider: ['executes'] } },
      create: (ctx) => {
        checkAtStart(ctx);
        return new ConcurrencyFilter(ctx.logger);
      },
    },
  ],
});

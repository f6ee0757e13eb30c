import type { ServiceConfig } from '../config/types';
import { deadlineError, expiredCall, replyWhenSettled, watchCall } from '../deadline/call-watch';
import { loopNow } from '../deadline/clock';
import { RpcCode, RpcError } from '../errors/rpc-error';
import { callStorage } from '../pipeline/call-context';
import { buildFilterChain } from '../pipeline/filter-chain';
import { resolveMethodSettings } from '../pipeline/method-settings';
import type { BoundMethod, MethodTable } from '../pipeline/method-table';
import type { Executor } from '../spi/executor';
import type { CallInterceptor, Filter } from '../spi/filter';
import { performance } from 'node:perf_hooks';
import { RpcInvocation, type Invocation, type MethodSettings } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { CallReply, ProviderRequest, ServiceInvoker } from '../spi/protocol';
import type { Result } from '../spi/result';
import type { URL } from '../url/url';
import { serviceError } from '../errors/service-error';

/** The built-in liveness method every service answers (never reaches filters or the executor). */
export const ECHO = '$echo';

/**
 * A provider method's return value as the Result, with the attachments the method set in
 * `Plexus.context().responseAttachments`, if any.
 */
function resultOf(inv: Invocation, value: unknown): Result {
  const attachments = (inv as RpcInvocation).replyAttachments;
  return attachments === undefined ? { value } : { value, attachments: { ...attachments } };
}

/** The end of one call whose method returned a promise: its outcome as a Result or a coded error. */
class MethodEnd {
  constructor(private readonly inv: Invocation) {}
  readonly ok = (value: unknown): Result => resultOf(this.inv, value);
  readonly fail = (err: unknown): never => {
    throw serviceError(err, this.inv);
  };
}

/** Runs the bound method; whatever it throws or rejects with becomes a coded error. */
function callMethod(fn: BoundMethod, inv: Invocation): Promise<Result> {
  let out: unknown;
  try {
    out = fn.apply(undefined, inv.args);
  } catch (err) {
    return Promise.reject(serviceError(err, inv));
  }
  if (out !== null && typeof out === 'object') {
    let then: unknown;
    try {
      then = (out as { then?: unknown }).then;
    } catch (err) {
      return Promise.reject(serviceError(err, inv));
    }
    if (typeof then === 'function') {
      const end = new MethodEnd(inv);
      // Promise.resolve adopts any thenable, even one whose `then` throws, as a rejection.
      return Promise.resolve(out).then(end.ok, end.fail);
    }
  }
  return Promise.resolve(resultOf(inv, out));
}

/** The bound method applied to the call's arguments; what it throws propagates. */
function applyMethod(fn: BoundMethod, inv: Invocation): unknown {
  return fn.apply(undefined, inv.args);
}

/**
 * The end of one inline call whose method returned a promise: tells the executor the call ended
 * and turns the outcome into a Result or a coded error.
 */
class InlineEnd {
  constructor(
    private readonly inline: { leave(): void },
    private readonly inv: Invocation,
    private readonly interceptors: readonly CallInterceptor[] | undefined,
    private readonly started: number,
  ) {}

  readonly ok = (value: unknown): Result => {
    this.inline.leave();
    if (this.interceptors !== undefined) afterAll(this.interceptors, this.interceptors.length, this.inv, undefined, this.started);
    return resultOf(this.inv, value);
  };

  readonly fail = (err: unknown): never => {
    this.inline.leave();
    const e = serviceError(err, this.inv);
    if (this.interceptors !== undefined) afterAll(this.interceptors, this.interceptors.length, this.inv, e, this.started);
    throw e;
  };
}

/**
 * Tells interceptors `count - 1` down to 0 that the call ended, outermost last, as a filter chain
 * unwinds. An interceptor that throws here cannot change the answer any more; the others are told.
 */
function afterAll(ics: readonly CallInterceptor[], count: number, inv: Invocation, error: unknown, started: number): void {
  const elapsed = performance.now() - started;
  for (let i = count - 1; i >= 0; i--) {
    try {
      ics[i].after(inv, error, elapsed);
    } catch {
      // an observer's failure is not the call's
    }
  }
}

/**
 * The implementation, as the executor runs it: the bound method inside the call's context, so
 * `Plexus.context()` works in it and in everything it awaits.
 */
export function runImplementation(table: MethodTable, inv: Invocation): Promise<Result> {
  const fn = table.get(inv.method);
  if (fn === undefined) return Promise.reject(methodNotFound(table, inv.method));
  return callStorage.run(inv, callMethod, fn, inv);
}

/**
 * The end of the provider filter chain: hands the call to the executor, which decides only where
 * the implementation runs (here, a limited queue, a worker thread).
 */
class ExecutorInvoker implements Invoker {
  private readonly task: (inv: Invocation) => Promise<Result>;
  constructor(
    private readonly runtime: { readonly url: URL },
    private readonly executor: Executor,
    table: MethodTable,
  ) {
    this.task = (inv) => runImplementation(table, inv);
  }
  /** The service's URL as exported (the bound port once the protocol listens). */
  get url(): URL {
    return this.runtime.url;
  }
  invoke(invocation: Invocation): Promise<Result> {
    return this.executor.execute(invocation, this.task);
  }
}

function methodNotFound(table: MethodTable, method: string): RpcError {
  return new RpcError(
    `Service ${table.iface} has no method "${method}". Declared: ${table.names.join(', ')}.`,
    RpcCode.METHOD_NOT_FOUND,
    { reason: 'PLEXUS_ERR_SERVICE_METHOD_NOT_FOUND', retryable: false },
  );
}

/**
 * One exported service on the provider side: method table, per-method settings, the provider
 * filter chain (built once, always on the event loop) ending in the executor, which runs only the
 * implementation. Holds each call to its deadline: the consumer's remaining budget or the
 * provider's own `timeout`, whichever ends first (SERVER_TIMEOUT, and the call's signal aborts).
 * This is what protocols see.
 */
export class ServiceRuntime implements ServiceInvoker {
  readonly serviceKey: string;
  readonly methods: readonly string[];
  private readonly settings = new Map<string, MethodSettings>();
  private readonly chain: Invoker;
  /**
   * Set when the executor runs calls at once and no filter runs, or only filters with an
   * interceptor: `dispatch` then calls the method itself.
   */
  private readonly inline: { enter(): void; leave(): void } | undefined;
  /** The filters' interceptors, when every filter has one; run around the method by `dispatch`. */
  private readonly interceptors: readonly CallInterceptor[] | undefined;
  /** Those of them with an `around`, in order; undefined when none has one. */
  private readonly arounds: readonly CallInterceptor[] | undefined;

  constructor(
    public url: URL,
    readonly config: ServiceConfig,
    readonly table: MethodTable,
    levels: ReadonlyArray<Readonly<Record<string, unknown>> | undefined>,
    filters: readonly Filter[],
    readonly executor: Executor,
  ) {
    this.serviceKey = url.serviceKey;
    this.methods = table.names;
    for (const m of [...table.names, ECHO]) {
      this.settings.set(m, resolveMethodSettings(m, [...levels, config.methods?.[m]]));
    }
    this.chain = buildFilterChain(new ExecutorInvoker(this, executor, table), filters);
    const interceptors = filters.map((f) => f.interceptor);
    this.interceptors = filters.length > 0 && interceptors.every((i) => i !== undefined) ? (interceptors as CallInterceptor[]) : undefined;
    const arounds = this.interceptors?.filter((i) => i.around !== undefined);
    this.arounds = arounds !== undefined && arounds.length > 0 ? arounds : undefined;
    this.inline = filters.length === 0 || this.interceptors !== undefined ? executor.inline : undefined;
  }

  /** Whether `method` (a name or a wire index) is callable: answerable before a body is decoded. */
  hasMethod(method: string | number): boolean {
    const name = typeof method === 'number' ? this.table.nameAt(method) : method;
    return name !== undefined && this.settings.has(name);
  }

  createInvocation(request: ProviderRequest): Invocation {
    const method = request.method;
    const name = typeof method === 'number' ? this.table.nameAt(method) : method;
    const settings = name === undefined ? undefined : this.settings.get(name);
    if (settings === undefined || name === undefined) throw methodNotFound(this.table, String(method));
    const now = loopNow();
    const own = settings.timeout > 0 ? now + settings.timeout : 0;
    const theirs = request.timeout !== undefined && request.timeout > 0 ? now + request.timeout : 0;
    const args = request.args;
    // An in-process caller watches its own deadline: the provider keeps one only when its own
    // timeout ends first (then it must answer SERVER_TIMEOUT itself).
    const deadline = own === 0 ? theirs : theirs === 0 ? own : Math.min(own, theirs);
    const inv = new RpcInvocation({
      service: this.table.iface,
      method: name,
      args: Array.isArray(args) ? args : [args],
      attachments: request.attachments,
      version: this.config.version ?? '',
      group: this.config.group ?? '',
      serviceKey: this.serviceKey,
      settings,
      deadline,
      // Always set on the provider side (filters tell the sides apart by it): a protocol that gives
      // none still yields a provider invocation.
      remoteAddress: request.remoteAddress || 'unknown',
    });
    if (request.callerWatches === true && (own === 0 || (theirs !== 0 && theirs <= own))) inv.watchedDeadline = 0;
    return inv;
  }

  invoke(invocation: Invocation): Promise<Result> {
    if (invocation.method === ECHO) return Promise.resolve({ value: invocation.args[0] });
    const watched = invocation instanceof RpcInvocation ? invocation.watchedDeadline : invocation.deadline;
    if (watched > 0) {
      if (watched <= loopNow()) return expiredCall(invocation, 'provider');
      return watchCall(invocation, this.chain.invoke(invocation), 'provider', undefined, watched);
    }
    return this.chain.invoke(invocation);
  }

  /** `invoke` for protocols that take the outcome by callback: no promise of its own, no race. */
  dispatch(invocation: Invocation, reply: CallReply): void {
    if (invocation.method === ECHO) {
      reply.resolved({ value: invocation.args[0] });
      return;
    }
    const watched = invocation instanceof RpcInvocation ? invocation.watchedDeadline : invocation.deadline;
    if (watched > 0 && watched <= loopNow()) {
      const err = deadlineError(invocation, 'provider');
      invocation.cancel(err);
      reply.rejected(err);
      return;
    }
    if (this.inline !== undefined) {
      this.dispatchInline(invocation, watched, reply, this.inline);
      return;
    }
    let running: Promise<Result>;
    try {
      running = this.chain.invoke(invocation);
    } catch (err) {
      reply.rejected(err);
      return;
    }
    replyWhenSettled(invocation, running, watched, reply);
  }

  /**
   * An executor that would only run the call now, and no filter but interceptors: the method runs
   * here, in the call's context, between the interceptors' `before` and `after`. A synchronous
   * result is answered at once with no promise at all; a promise is held to the provider's
   * deadline as usual.
   */
  private dispatchInline(inv: Invocation, watched: number, reply: CallReply, inline: { enter(): void; leave(): void }): void {
    const fn = this.table.get(inv.method);
    if (fn === undefined) {
      reply.rejected(methodNotFound(this.table, inv.method));
      return;
    }
    const ics = this.interceptors;
    let started = 0;
    if (ics !== undefined) {
      started = performance.now();
      let i = 0;
      try {
        for (; i < ics.length; i++) {
          const admitted = ics[i].before(inv, this.url);
          if (admitted !== undefined) {
            // A before that cannot decide at once: the rest of this call runs as a promise.
            replyWhenSettled(inv, this.afterAdmission(admitted, i, fn, inv, inline, ics, started), watched, reply);
            return;
          }
        }
      } catch (err) {
        afterAll(ics, i, inv, err, started);
        reply.rejected(err);
        return;
      }
    }
    inline.enter();
    let out: unknown;
    let then: unknown;
    try {
      out = this.arounds === undefined ? callStorage.run(inv, applyMethod, fn, inv) : this.wrapped(inv, () => callStorage.run(inv, applyMethod, fn, inv));
      if (out !== null && typeof out === 'object') then = (out as { then?: unknown }).then;
    } catch (err) {
      inline.leave();
      const e = serviceError(err, inv);
      if (ics !== undefined) afterAll(ics, ics.length, inv, e, started);
      reply.rejected(e);
      return;
    }
    if (typeof then !== 'function') {
      inline.leave();
      if (ics !== undefined) afterAll(ics, ics.length, inv, undefined, started);
      reply.resolved(resultOf(inv, out));
      return;
    }
    const end = new InlineEnd(inline, inv, ics, started);
    // Promise.resolve adopts any thenable, even one whose `then` throws, as a rejection.
    replyWhenSettled(inv, Promise.resolve(out).then(end.ok, end.fail), watched, reply);
  }

  /** `run` inside every interceptor's `around`, the first interceptor outermost. */
  private wrapped(inv: Invocation, run: () => unknown): unknown {
    const arounds = this.arounds!;
    let proceed = run;
    for (let i = arounds.length - 1; i >= 0; i--) {
      const ic = arounds[i];
      const inner = proceed;
      proceed = () => ic.around!(inv, inner);
    }
    return proceed();
  }

  /** The rare path: interceptor `at` answered with a promise; the others and the method follow it. */
  private async afterAdmission(
    admitted: Promise<void>,
    at: number,
    fn: BoundMethod,
    inv: Invocation,
    inline: { enter(): void; leave(): void },
    ics: readonly CallInterceptor[],
    started: number,
  ): Promise<Result> {
    let i = at;
    try {
      await admitted;
      for (i = at + 1; i < ics.length; i++) await ics[i].before(inv, this.url);
    } catch (err) {
      afterAll(ics, i, inv, err, started);
      throw err;
    }
    inline.enter();
    return (this.arounds === undefined ? callStorage.run(inv, callMethod, fn, inv) : (this.wrapped(inv, () => callStorage.run(inv, callMethod, fn, inv)) as Promise<Result>)).then(
      (result) => {
        inline.leave();
        afterAll(ics, ics.length, inv, undefined, started);
        return result;
      },
      (err: unknown) => {
        inline.leave();
        afterAll(ics, ics.length, inv, err, started);
        throw err;
      },
    );
  }
}

import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { Plexus } from '@plexus/kernel';
import {
  definePlugin,
  PlexusError,
  RpcError,
  type CallInterceptor,
  type CancelListener,
  type ExtensionContext,
  type Filter,
  type Invocation,
  type Invoker,
  type Logger,
  type Result,
  type URL,
} from '@plexus/kernel/spi';
import { TracingBadContext } from './errors';
import { W3CPropagator } from './w3c-propagator';

/** The instrumentation scope spans are created under (`trace.getTracer(name, version)`). */
export const TRACER_NAME = '@plexus/filter-tracing';
export const TRACER_VERSION = '0.1.0';

/** Options of the `tracing` filter, under `extensions.filter.tracing`. */
export interface TracingFilterOptions {
  /**
   * Longest trace-context attachment value (`traceparent`, `tracestate`, `baggage`, or whatever a
   * registered propagator reads) a caller may send; a longer one is ignored before any propagator
   * parses it. Default 8192: W3C Baggage's own limit, the largest of the standard headers, so
   * well-formed context always fits and a hostile caller's costs at most that much parsing.
   */
  maxValueLength?: number;
  /** Unusable context from callers is reported at most once per this many ms, with a count. Default 10000. */
  warnEveryMs?: number;
}

export const TRACING_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxValueLength: { type: 'integer', minimum: 55, default: 8192 },
    warnEveryMs: { type: 'integer', minimum: 0, default: 10_000 },
  },
} as const;

const ECHO = '$echo';

/** Methods whose span shape is kept per target; a service has far fewer, generic callers may invent more. */
const MAX_SHAPES_PER_TARGET = 256;

interface Shape {
  readonly name: string;
  readonly attributes: Attributes;
}

/** Attribute names beyond OpenTelemetry's RPC conventions. */
export const ATTR_CODE = 'rpc.plexus.code';
export const ATTR_REASON = 'rpc.plexus.reason';
export const ATTR_VERSION = 'rpc.plexus.version';
export const ATTR_GROUP = 'rpc.plexus.group';

/**
 * The context each provider call's SERVER span was made active in, by the provider invocation
 * (which is also what `Plexus.currentContext()` answers inside the method). Lets a nested call
 * find its parent when the active OTel context is not there: no context manager registered, or an
 * executor that ran the method from another call's continuation (a queued `limited` call).
 */
const servedByCall = new WeakMap<object, Context>();
/** The recording SERVER span of a provider call run through the interceptor, to end after it. */
const spanCalls = new WeakMap<object, SpanCall>();
/** Every context made active for a SERVER span, so one that leaked into another call is recognised. */
const servedContexts = new WeakSet<Context>();

const setter: TextMapSetter<Record<string, string>> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

/**
 * OpenTelemetry tracing of every call, on both sides (`filter: [tracing]`). The consumer opens a
 * CLIENT span per attempt (it runs at the invoker stage, so `server.address`/`server.port` name
 * the provider chosen) and writes the trace context into the call's attachments through the
 * global propagator, or W3C Trace Context + Baggage when the application registered none. The
 * provider reads it back, opens a SERVER span as its child, and runs the rest of the call —
 * implementation included — with that span's context active, so calls the implementation makes
 * continue the trace. Failures set the span's status to ERROR with the RpcCode in
 * `rpc.plexus.code` and record the exception; a cancelled call (deadline, abort, lost connection)
 * ends its span at the cancel. Spans go to whatever SDK the application registered; with none,
 * the API's no-op tracer costs a few allocations per call. Scope: one instance per reference or
 * service; called concurrently.
 */
export class TracingFilter implements Filter {
  private readonly tracer: Tracer;
  private readonly fallback: W3CPropagator;
  private readonly getter: TextMapGetter<Record<string, string>>;
  private readonly maxValueLength: number;
  private readonly warnEveryMs: number;
  /** Span names and fixed attributes, per target URL (stable per invoker) and method. */
  private readonly shapes = new WeakMap<URL, Map<string, Shape>>();
  /** The caller of the extraction under way (extraction is synchronous). */
  private caller = '';
  private unreported = 0;
  private lastWarn = 0;

  constructor(
    private readonly logger: Logger,
    options: TracingFilterOptions = {},
  ) {
    this.maxValueLength = options.maxValueLength ?? 8192;
    this.warnEveryMs = options.warnEveryMs ?? 10_000;
    // A ProxyTracer: follows the provider the application registers, even after this filter exists.
    this.tracer = trace.getTracer(TRACER_NAME, TRACER_VERSION);
    this.fallback = new W3CPropagator((key, why) => this.invalid(key, why));
    const max = this.maxValueLength;
    this.getter = {
      keys: (carrier) => Object.keys(carrier),
      get: (carrier, key) => {
        const value = carrier[key];
        if (typeof value !== 'string') return undefined;
        if (value.length > max) {
          this.invalid(key, `${value.length} characters, over maxValueLength ${max}`);
          return undefined;
        }
        return value;
      },
    };
  }

  invoke(next: Invoker, invocation: Invocation): Promise<Result> {
    // The kernel's liveness probe (start checks, health probes) is not the application's traffic.
    if (invocation.method === ECHO) return next.invoke(invocation);
    // The kernel does not tell a filter its side: provider-side invocations carry the caller's address.
    return invocation.remoteAddress === undefined ? this.client(next, invocation) : this.server(next, invocation);
  }

  private client(next: Invoker, inv: Invocation): Promise<Result> {
    const parent = parentContext();
    const shape = this.shapeOf(inv, next.url);
    const span = this.tracer.startSpan(shape.name, { kind: SpanKind.CLIENT, attributes: shape.attributes }, parent);
    // Nothing to record and nothing to pass on (no SDK, no incoming trace): the call goes on as it is.
    if (parent === ROOT_CONTEXT && !span.isRecording() && !isSpanContextValid(span.spanContext())) return next.invoke(inv);
    const ctx = trace.setSpan(parent, span);
    (propagation.fields().length > 0 ? propagation : this.fallback).inject(ctx, inv.attachments, setter);
    return run(span, inv, ctx, next);
  }

  private server(next: Invoker, inv: Invocation): Promise<Result> {
    const served = this.openServerSpan(inv, next.url);
    if (served === undefined) return next.invoke(inv);
    return run(served.span, inv, served.ctx, next);
  }

  /**
   * The provider's callback form (the kernel runs it around the method with no promise of its
   * own): the SERVER span opened before the call, its context active around the method and all it
   * awaits, the span ended with the outcome.
   */
  readonly interceptor: CallInterceptor = {
    before: (inv: Invocation, url: URL): void => {
      if (inv.method === ECHO || inv.remoteAddress === undefined) return;
      const served = this.openServerSpan(inv, url);
      if (served === undefined || !served.span.isRecording()) return;
      const call = new SpanCall(served.span, inv);
      inv.addCancelListener(call);
      spanCalls.set(inv, call);
    },
    around: (inv: Invocation, proceed: () => unknown): unknown => {
      const ctx = servedByCall.get(inv);
      return ctx === undefined ? proceed() : context.with(ctx, proceed);
    },
    after: (inv: Invocation, error: unknown): void => {
      spanCalls.get(inv)?.end(error);
    },
  };

  /** Opens the SERVER span of a provider call; undefined when there is nothing to record or pass on. */
  private openServerSpan(inv: Invocation, url: URL): { span: Span; ctx: Context } | undefined {
    this.caller = inv.remoteAddress ?? '';
    const parent = (propagation.fields().length > 0 ? propagation : this.fallback).extract(ROOT_CONTEXT, inv.attachments, this.getter);
    const shape = this.shapeOf(inv, url);
    const span = this.tracer.startSpan(shape.name, { kind: SpanKind.SERVER, attributes: shape.attributes }, parent);
    if (span.isRecording()) peerAttributes(span, inv.remoteAddress!);
    else if (parent === ROOT_CONTEXT && !isSpanContextValid(span.spanContext())) return undefined;
    const ctx = trace.setSpan(parent, span);
    servedByCall.set(inv, ctx);
    servedContexts.add(ctx);
    return { span, ctx };
  }

  /** The span name and the attributes fixed per target and method, built once and shared (frozen). */
  private shapeOf(inv: Invocation, url: URL): Shape {
    let byMethod = this.shapes.get(url);
    if (byMethod === undefined) this.shapes.set(url, (byMethod = new Map()));
    let shape = byMethod.get(inv.method);
    if (shape === undefined) {
      shape = { name: `${inv.service}/${inv.method}`, attributes: Object.freeze(attributes(inv, url)) };
      // Generic calls may name any method: past the bound, shapes are built per call instead of kept.
      if (byMethod.size < MAX_SHAPES_PER_TARGET) byMethod.set(inv.method, shape);
    }
    return shape;
  }

  /** Counts an unusable header from a caller; warns at most once per `warnEveryMs`. */
  private invalid(key: string, why: string): void {
    this.unreported++;
    const now = Date.now();
    if (now - this.lastWarn < this.warnEveryMs) return;
    this.lastWarn = now;
    const err = TracingBadContext(this.unreported, key, why, this.caller || 'a caller');
    this.unreported = 0;
    this.logger.warn(err.message, { code: err.code });
  }
}

/**
 * The parent of a CLIENT span: the active context — unless this runs inside a provider call whose
 * SERVER context is not active (no context manager, or another call's context leaked in through
 * an executor's queue), then that call's SERVER context.
 */
function parentContext(): Context {
  const active = context.active();
  const call = Plexus.currentContext();
  if (call === undefined) return active;
  const served = servedByCall.get(call);
  if (active === served) return active;
  // Another call's SERVER context leaked in: this call's own, or none when this call has none.
  if (servedContexts.has(active)) return served ?? ROOT_CONTEXT;
  return served !== undefined && active === ROOT_CONTEXT ? served : active;
}

function attributes(inv: Invocation, url: URL): Attributes {
  const attrs: Attributes = {
    'rpc.system': 'plexus',
    'rpc.service': inv.service,
    'rpc.method': inv.method,
    'server.address': url.host,
  };
  if (url.port > 0) attrs['server.port'] = url.port;
  if (inv.version) attrs[ATTR_VERSION] = inv.version;
  if (inv.group) attrs[ATTR_GROUP] = inv.group;
  return attrs;
}

/** `network.peer.*` from the caller's `host:port` (`[v6]:port` too); a socket path or `injvm` as it is. */
function peerAttributes(span: Span, remote: string): void {
  const colon = remote.lastIndexOf(':');
  const port = colon > 0 ? Number(remote.slice(colon + 1)) : NaN;
  if (Number.isInteger(port) && port > 0 && port < 65536) {
    const host = remote.slice(0, colon);
    span.setAttribute('network.peer.address', host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);
    span.setAttribute('network.peer.port', port);
  } else span.setAttribute('network.peer.address', remote);
}

/** Runs the rest of the chain with `ctx` active and ends `span` with the outcome. */
function run(span: Span, inv: Invocation, ctx: Context, next: Invoker): Promise<Result> {
  if (!span.isRecording()) return context.with(ctx, next.invoke, next, inv);
  const call = new SpanCall(span, inv);
  inv.addCancelListener(call);
  let result: Promise<Result>;
  try {
    result = context.with(ctx, next.invoke, next, inv);
  } catch (err) {
    call.end(err);
    throw err;
  }
  return result.then(
    (value) => {
      call.end(undefined);
      return value;
    },
    (err: unknown) => {
      call.end(err);
      throw err;
    },
  );
}

/** One recording span and its call: ends once, at the outcome or at the cancel, whichever comes first. */
class SpanCall implements CancelListener {
  private ended = false;
  constructor(
    private readonly span: Span,
    private readonly inv: Invocation,
  ) {}

  onCancel(reason: RpcError): void {
    this.end(reason);
  }

  end(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.inv.removeCancelListener(this);
    if (err !== undefined) fail(this.span, err);
    this.span.end();
  }
}

function fail(span: Span, err: unknown): void {
  const code = RpcError.is(err) ? err.code : PlexusError.is(err) ? err.code : 'UNKNOWN';
  const message = err instanceof Error ? err.message : String(err);
  span.setAttribute(ATTR_CODE, code);
  span.setAttribute('error.type', code);
  if (RpcError.is(err) && err.reason !== undefined) span.setAttribute(ATTR_REASON, err.reason);
  if (err instanceof Error) span.recordException(err);
  else span.recordException(message);
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${code}: ${message}` });
}

export default definePlugin({
  name: '@plexus/filter-tracing',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'filter',
      name: 'tracing',
      // Only where `filter:` names it; outermost but for accesslog, so the span covers the other
      // filters' refusals; on the consumer at the invoker stage, where the provider is known.
      activate: { side: ['consumer', 'provider'], order: -1900, stage: 'invoker', keys: [] },
      optionsSchema: TRACING_OPTIONS_SCHEMA as unknown as Record<string, unknown>,
      create: (ctx: ExtensionContext) => new TracingFilter(ctx.logger, ctx.options as TracingFilterOptions),
    },
  ],
});

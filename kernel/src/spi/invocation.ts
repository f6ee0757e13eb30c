import { loopNow } from '../deadline/clock';
import type { RpcError } from '../errors/rpc-error';
import type { Result } from './result';
import { serviceKey } from '../url/url';

/**
 * The effective settings of one method of one reference or service, resolved once from
 * method > service/reference > consumer/provider defaults > protocol > application and shared by
 * every call of that method. Scope: per reference (or service) and method. Immutable.
 */
export interface MethodSettings {
  readonly method: string;
  /** The budget of the whole call in ms, retries included; 0 = none. */
  readonly timeout: number;
  readonly retries: number;
  readonly cluster: string;
  readonly loadbalance: string;
  /** The serializer this side's config names, or `''`: then the provider's (its URL), else the protocol's default. */
  readonly serializer: string;
  /** The compressor this side's config names, or `''` (as `serializer`). */
  readonly compressor: string;
  /** Bodies smaller than this many bytes are not compressed. */
  readonly compressThreshold: number;
  readonly idempotent: boolean;
  readonly oneWay: boolean;
  /** Consumer side: the method answers with a stream, so the proxy returns an `AsyncIterable` at once (`stream: true`). */
  readonly stream: boolean;
  /** Every key that applies to this method, as strings, for plugins with keys of their own. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Told once when a call is cancelled: its deadline passed, the consumer aborted it, or the
 * connection carrying it dropped. Protocols make their pending-call object a listener, so
 * watching a call allocates nothing.
 */
export interface CancelListener {
  onCancel(reason: RpcError): void;
}

/**
 * One call. Immutable once made, except `attachments`, which consumer filters may change before
 * the call leaves. What varies per attempt (the provider tried, when it started, the providers
 * already tried) belongs to the cluster's attempt, never to the invocation, so `forking` and
 * `broadcast` can run attempts of one invocation concurrently.
 *
 * Deadlines and cancellation are the kernel's: `deadline` is fixed when the call is made (the
 * whole call's budget, retries included); the kernel cancels the call when it passes. Anything that
 * waits on the call's behalf (a protocol's pending request, an implementation through
 * `Plexus.context().signal`) listens for the cancel and stops.
 */
export interface Invocation {
  /** The service interface, e.g. `demo.Greeter`. */
  readonly service: string;
  readonly method: string;
  readonly args: unknown[];
  readonly attachments: Record<string, string>;
  readonly version: string;
  readonly group: string;
  /** `group/interface:version`. */
  readonly serviceKey: string;
  /** Per-method settings; on the provider side they describe the service's method. */
  readonly settings: MethodSettings;
  /** Epoch milliseconds after which nobody wants the answer; 0 when none. */
  readonly deadline: number;
  /** Provider side: the consumer's address (`host:port`, a socket path, or `injvm`). */
  readonly remoteAddress?: string;
  /** The reason once the call was cancelled, else undefined. */
  readonly cancelled: RpcError | undefined;
  /**
   * Aborted when the call is cancelled (deadline, consumer abort, connection lost); its `reason`
   * is the coded `RpcError`. Created on first access: calls nobody watches pay nothing for it.
   */
  readonly signal: AbortSignal;
  /** Tells `listener` when the call is cancelled; at once when it already was. */
  addCancelListener(listener: CancelListener): void;
  removeCancelListener(listener: CancelListener): void;
  /** Cancels the call: the signal aborts, listeners are told. Idempotent: the first reason stays. */
  cancel(reason: RpcError): void;
  /**
   * Consumer side, at the deadline: a layer that answers failures itself (a mock or fallback,
   * `failsafe`, `failback`) may answer the call instead of the TIMEOUT, from the cancel listener it
   * registered. The kernel's deadline cancels the call, then resolves the caller with the first
   * result given here, if any. Ignored for any other cancel (a caller's abort wants no answer).
   */
  recover(result: Result): void;
  /** What `recover` was given, else undefined. */
  readonly recovered: Result | undefined;
  /**
   * Provider side: attachments the implementation sends back with its answer
   * (`Plexus.context().responseAttachments`); created on first access.
   */
  readonly responseAttachments: Record<string, string>;
}

/** The named fields an invocation is built from. */
export interface InvocationInit {
  service: string;
  method: string;
  args: unknown[];
  attachments: Record<string, string>;
  version?: string;
  group?: string;
  /** Default: computed from service, version and group. */
  serviceKey?: string;
  settings: MethodSettings;
  /** Epoch ms; when omitted, now + `settings.timeout` (0 = none). */
  deadline?: number;
  remoteAddress?: string;
}

/** A plain Invocation; one allocation per call (its signal only when asked for). */
export class RpcInvocation implements Invocation, CancelListener {
  readonly service: string;
  readonly method: string;
  readonly args: unknown[];
  readonly attachments: Record<string, string>;
  readonly version: string;
  readonly group: string;
  readonly serviceKey: string;
  readonly settings: MethodSettings;
  readonly deadline: number;
  readonly remoteAddress?: string;
  /**
   * Provider side: the deadline the provider itself enforces — `deadline`, or 0 when an
   * in-process caller already holds the call to it (the kernel sets this).
   */
  watchedDeadline: number;
  recovered: Result | undefined = undefined;
  /** Provider side: what the implementation set in `responseAttachments`, if it touched them. */
  replyAttachments: Record<string, string> | undefined = undefined;
  private reason: RpcError | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private listener: CancelListener | undefined = undefined;
  private listeners: CancelListener[] | undefined = undefined;

  constructor(init: InvocationInit) {
    this.service = init.service;
    this.method = init.method;
    this.args = init.args;
    this.attachments = init.attachments;
    this.version = init.version ?? '';
    this.group = init.group ?? '';
    this.serviceKey = init.serviceKey ?? serviceKey(init.service, this.version, this.group);
    this.settings = init.settings;
    this.deadline = init.deadline ?? (init.settings.timeout > 0 ? loopNow() + init.settings.timeout : 0);
    this.watchedDeadline = this.deadline;
    this.remoteAddress = init.remoteAddress;
  }

  get cancelled(): RpcError | undefined {
    return this.reason;
  }

  /** Provider side: attachments to send back with the answer; created on first access. */
  get responseAttachments(): Record<string, string> {
    return (this.replyAttachments ??= Object.create(null) as Record<string, string>);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  addCancelListener(listener: CancelListener): void {
    if (this.reason !== undefined) {
      listener.onCancel(this.reason);
      return;
    }
    if (this.listener === undefined) this.listener = listener;
    else (this.listeners ??= []).push(listener);
  }

  removeCancelListener(listener: CancelListener): void {
    if (this.listener === listener) this.listener = undefined;
    else if (this.listeners !== undefined) {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    }
  }

  cancel(reason: RpcError): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    const first = this.listener;
    const more = this.listeners;
    this.listener = undefined;
    this.listeners = undefined;
    // Listeners first: a protocol drops its pending request before user code sees the abort.
    if (first !== undefined) notify(first, reason);
    if (more !== undefined) for (const l of more) notify(l, reason);
    this.controller?.abort(reason);
  }

  recover(result: Result): void {
    if (this.recovered === undefined) this.recovered = result;
  }

  /** As a listener of another call (a consumer call carried in-process), cancels this one too. */
  onCancel(reason: RpcError): void {
    this.cancel(reason);
  }
}

function notify(listener: CancelListener, reason: RpcError): void {
  try {
    listener.onCancel(reason);
  } catch {
    // A listener that throws must not keep the others from hearing of the cancel.
  }
}

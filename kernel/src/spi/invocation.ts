import type { Invoker } from './invoker';

/**
 * The effective settings of one method of one reference or service, resolved once from
 * method > service/reference > consumer/provider defaults > protocol > application and shared by
 * every call of that method. Scope: per reference (or service) and method. Immutable.
 */
export interface MethodSettings {
  readonly method: string;
  readonly timeout: number;
  readonly retries: number;
  readonly cluster: string;
  readonly loadbalance: string;
  readonly serializer: string;
  readonly compressor: string;
  /** Bodies smaller than this many bytes are not compressed. */
  readonly compressThreshold: number;
  readonly idempotent: boolean;
  readonly oneWay: boolean;
  /** Every key that applies to this method, as strings, for plugins with keys of their own. */
  readonly params: Readonly<Record<string, string>>;
}

/** One call. Consumer filters may change `attachments`; everything else is fixed once created. */
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
  deadline: number;
  /** Provider side: the consumer's address. Consumer side: the provider that was tried last. */
  remoteAddress?: string;
  /** Consumer side: providers already tried by this call (failover skips them). */
  tried?: Invoker[];
}

/** A plain Invocation; one allocation per call. */
export class RpcInvocation implements Invocation {
  deadline: number;
  remoteAddress?: string;
  tried?: Invoker[];
  constructor(
    readonly service: string,
    readonly method: string,
    readonly args: unknown[],
    readonly attachments: Record<string, string>,
    readonly version: string,
    readonly group: string,
    readonly serviceKey: string,
    readonly settings: MethodSettings,
    /** Epoch ms; when omitted, now + `settings.timeout` (0 = none). */
    deadline?: number,
  ) {
    this.deadline = deadline ?? (settings.timeout > 0 ? Date.now() + settings.timeout : 0);
  }
}

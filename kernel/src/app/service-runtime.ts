import { RpcCode, RpcError } from '../errors/rpc-error';
import { MethodTable, type BoundMethod } from '../pipeline/method-table';
import { callStorage } from '../pipeline/call-context';
import { buildFilterChain } from '../pipeline/filter-chain';
import { resolveMethodSettings } from '../pipeline/method-settings';
import type { Executor } from '../spi/executor';
import type { Filter } from '../spi/filter';
import { RpcInvocation, type Invocation, type MethodSettings } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { ServiceInvoker } from '../spi/protocol';
import type { Result } from '../spi/result';
import type { URL } from '../url/url';
import type { ServiceConfig } from '../config/types';

const ECHO = '$echo';

/** Wraps a provider method's return value; shared, so no closure per call. */
function toResult(value: unknown): Result {
  return { value };
}

/** A business error becomes SERVICE_ERROR with the original name and message; RpcErrors keep their code. */
export function serviceError(err: unknown): RpcError {
  if (RpcError.is(err)) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  const data = typeof code === 'string' || typeof code === 'number' ? { code } : undefined;
  const rpc = new RpcError(e.message, RpcCode.SERVICE_ERROR, { cause: e, data });
  rpc.remoteName = e.name;
  return rpc;
}

function rejectAsServiceError(err: unknown): never {
  throw serviceError(err);
}

function callMethod(fn: BoundMethod, args: unknown[]): Promise<Result> {
  let out: unknown;
  try {
    out = fn.apply(undefined, args);
  } catch (err) {
    return Promise.reject(serviceError(err));
  }
  if (out !== null && typeof out === 'object' && typeof (out as Promise<unknown>).then === 'function') {
    return (out as Promise<unknown>).then(toResult, rejectAsServiceError);
  }
  return Promise.resolve({ value: out });
}

/** The innermost provider invoker: finds the bound method and runs it inside the call's context. */
class ImplementationInvoker implements Invoker {
  constructor(
    readonly url: URL,
    private readonly table: MethodTable,
  ) {}
  invoke(invocation: Invocation): Promise<Result> {
    if (invocation.method === ECHO) return Promise.resolve({ value: invocation.args[0] });
    const fn = this.table.get(invocation.method);
    if (!fn) return Promise.reject(methodNotFound(this.table, invocation.method));
    return callStorage.run(invocation, callMethod, fn, invocation.args);
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
 * filter chain (built once) and the executor in front of it. This is what protocols see.
 */
export class ServiceRuntime implements ServiceInvoker {
  readonly serviceKey: string;
  readonly methods: readonly string[];
  private readonly settings = new Map<string, MethodSettings>();
  private readonly chain: Invoker;
  private readonly runChain: (invocation: Invocation) => Promise<Result>;

  constructor(
    public url: URL,
    readonly config: ServiceConfig,
    readonly table: MethodTable,
    private readonly levels: ReadonlyArray<Readonly<Record<string, unknown>> | undefined>,
    filters: readonly Filter[],
    readonly executor: Executor,
  ) {
    this.serviceKey = url.serviceKey;
    this.methods = table.names;
    for (const m of [...table.names, ECHO]) {
      this.settings.set(m, resolveMethodSettings(m, [...levels, config.methods?.[m]]));
    }
    this.chain = buildFilterChain(new ImplementationInvoker(url, table), filters);
    const chain = this.chain;
    this.runChain = (inv) => chain.invoke(inv);
  }

  createInvocation(method: string | number, args: unknown[], attachments: Record<string, string>, remoteAddress: string): Invocation {
    const name = typeof method === 'number' ? this.table.nameAt(method) : method;
    const settings = name === undefined ? undefined : this.settings.get(name);
    if (settings === undefined || name === undefined) throw methodNotFound(this.table, String(method));
    const inv = new RpcInvocation(
      this.table.iface,
      name,
      Array.isArray(args) ? args : [args],
      attachments,
      this.config.version ?? '',
      this.config.group ?? '',
      this.serviceKey,
      settings,
      // The protocol sets the consumer's deadline when the request carried one.
      0,
    );
    inv.remoteAddress = remoteAddress;
    return inv;
  }

  invoke(invocation: Invocation): Promise<Result> {
    return this.executor.execute(invocation, this.runChain);
  }
}

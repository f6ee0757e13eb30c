import { RpcCode, RpcError } from '../errors/rpc-error';
import { RpcInvocation, type Invocation } from '../spi/invocation';
import type { ProviderRequest, ServiceInvoker } from '../spi/protocol';
import type { Result } from '../spi/result';
import { URL, serviceKey as toServiceKey } from '../url/url';
import { methodSettings } from './fakes';

/** The methods a {@link FakeServiceInvoker} serves: plain functions, sync or async. */
export type FakeServiceImpl = Record<string, (...args: any[]) => unknown>;

/**
 * The provider side of one service as the kernel would hand it to `Protocol.export`, built by hand:
 * declared methods are the own keys of `impl` (so `constructor` or `toString` are unknown methods),
 * whatever an implementation throws becomes `SERVICE_ERROR` with the original name and message (an
 * `RpcError` keeps its code), and every provider invocation is kept in `seen`. No filters, no
 * executor, no deadline enforcement (the request's timeout only sets `deadline`). Scope: one per exported service in a test.
 */
export class FakeServiceInvoker implements ServiceInvoker {
  readonly url: URL;
  readonly methods: readonly string[];
  /** Every provider-side invocation run, in the order they started. */
  readonly seen: Invocation[] = [];
  /** Calls running now. */
  active = 0;
  private readonly declared: ReadonlySet<string>;

  constructor(
    readonly serviceKey: string,
    private readonly impl: FakeServiceImpl,
    url?: URL | string,
  ) {
    this.url = url === undefined ? URL.parse(`injvm://127.0.0.1/${serviceKey}`) : typeof url === 'string' ? URL.parse(url) : url;
    this.methods = Object.keys(impl);
    this.declared = new Set(this.methods);
  }

  /** A FakeServiceInvoker whose service key is that of `url` (`group/interface:version`). */
  static at(url: URL, impl: FakeServiceImpl): FakeServiceInvoker {
    return new FakeServiceInvoker(toServiceKey(url.path, url.params.version, url.params.group), impl, url);
  }

  createInvocation(request: ProviderRequest): Invocation {
    const { method } = request;
    const name = typeof method === 'number' ? this.methods[method] : method;
    if (name === undefined || !this.declared.has(name)) {
      throw new RpcError(`service ${this.serviceKey} has no method ${String(method)}`, RpcCode.METHOD_NOT_FOUND);
    }
    const timeout = request.timeout ?? 0;
    return new RpcInvocation({
      service: this.url.path,
      method: name,
      args: request.args,
      attachments: request.attachments,
      version: this.url.params.version ?? '',
      group: this.url.params.group ?? '',
      serviceKey: this.serviceKey,
      settings: methodSettings({ method: name, timeout }),
      deadline: timeout > 0 ? Date.now() + timeout : 0,
      remoteAddress: request.remoteAddress,
    });
  }

  async invoke(invocation: Invocation): Promise<Result> {
    this.seen.push(invocation);
    this.active++;
    try {
      const fn = this.declared.has(invocation.method) ? this.impl[invocation.method] : undefined;
      if (fn === undefined) throw new RpcError(`service ${this.serviceKey} has no method ${invocation.method}`, RpcCode.METHOD_NOT_FOUND);
      return { value: await fn.apply(this.impl, invocation.args) };
    } catch (err) {
      throw RpcError.from(err, RpcCode.SERVICE_ERROR);
    } finally {
      this.active--;
    }
  }
}

import { RpcCode, RpcError } from '../errors/rpc-error';
import { definePlugin } from '../extension/plugin';
import type { CancelListener, Invocation } from '../spi/invocation';
import type { Exporter, Invoker } from '../spi/invoker';
import type { Protocol, ServiceInvoker } from '../spi/protocol';
import type { Result } from '../spi/result';
import type { URL } from '../url/url';
import { isAsyncIterable } from '../stream/rpc-stream';
import { openProviderStream } from '../stream/source-stream';

/**
 * Calls a service exported in the same application without leaving the process: no codec, no
 * socket; arguments are passed by reference. A reference uses it when the application provides
 * the service itself and no `url:` is given (Dubbo's local-first rule).
 */
export class InjvmProtocol implements Protocol {
  readonly defaultPort = 0;
  private readonly services = new Map<string, ServiceInvoker>();
  private draining = false;

  async export(service: ServiceInvoker, url: URL): Promise<Exporter> {
    this.services.set(service.serviceKey, service);
    return {
      url,
      invoker: service,
      unexport: async () => {
        if (this.services.get(service.serviceKey) === service) this.services.delete(service.serviceKey);
      },
    };
  }

  refer(url: URL): Invoker {
    return new InjvmInvoker(this, url);
  }

  lookup(serviceKey: string): ServiceInvoker | undefined {
    return this.services.get(serviceKey);
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async drain(): Promise<void> {
    this.draining = true;
  }

  async destroy(): Promise<void> {
    this.services.clear();
  }
}

/** The provider's own copy of the attachments (it may change them); none allocated when empty. */
function copyOf(attachments: Record<string, string>): Record<string, string> {
  for (const _ in attachments) return { ...attachments };
  return {};
}

/**
 * A streamed answer is read by the consumer straight from the provider's iterator, through the
 * kernel's provider stream: the generator runs in its call's context, its errors come coded, and
 * the consumer's `break` runs its `finally`.
 */
function streamed(inv: Invocation, result: Result): Result {
  const value = result.value;
  if (!isAsyncIterable(value)) return result;
  return { value: openProviderStream(inv, value), attachments: result.attachments };
}

function isCancelListener(value: object): value is CancelListener {
  return typeof (value as Partial<CancelListener>).onCancel === 'function';
}

class InjvmInvoker implements Invoker {
  constructor(
    private readonly protocol: InjvmProtocol,
    readonly url: URL,
  ) {}

  invoke(invocation: Invocation): Promise<Result> {
    if (this.protocol.isDraining) {
      return Promise.reject(
        new RpcError(`service ${invocation.serviceKey} is shutting down in this process`, RpcCode.SHUTTING_DOWN, { remote: 'injvm' }),
      );
    }
    const service = this.protocol.lookup(invocation.serviceKey);
    if (!service) {
      return Promise.reject(
        new RpcError(`service ${invocation.serviceKey} is not exported in this process`, RpcCode.SERVICE_NOT_FOUND, {
          remote: 'injvm',
        }),
      );
    }
    let inv: Invocation;
    try {
      inv = service.createInvocation({
        method: invocation.method,
        args: invocation.args,
        attachments: copyOf(invocation.attachments),
        remoteAddress: 'injvm',
        timeout: invocation.deadline > 0 ? Math.max(1, invocation.deadline - Date.now()) : 0,
        callerWatches: true,
      });
    } catch (err) {
      return Promise.reject(RpcError.from(err, RpcCode.BAD_REQUEST));
    }
    // The consumer's cancel (deadline, abort) reaches the provider's signal, as a cancel frame would.
    if (isCancelListener(inv)) invocation.addCancelListener(inv);
    return service.invoke(inv).then((result) => streamed(inv, result));
  }

  isAvailable(): boolean {
    return !this.protocol.isDraining && this.protocol.lookup(this.url.serviceKey) !== undefined;
  }
}

export default definePlugin({
  name: '@plexus/kernel',
  extensions: [{ point: 'protocol', name: 'injvm', create: () => new InjvmProtocol() }],
});

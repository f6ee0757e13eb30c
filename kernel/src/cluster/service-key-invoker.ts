import type { RpcError } from '../errors/rpc-error';
import type { CancelListener, Invocation, MethodSettings } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Result } from '../spi/result';
import { serviceKey, type URL } from '../url/url';

/**
 * One call as a provider of another group (or version) than the reference's own must receive it:
 * the same call — deadline, cancellation, attachments and all are the original's — under the
 * provider's `group`, `version` and service key. Used when a reference merges groups
 * (`group: '*'` or a list) or versions (`version: '*'`).
 */
class RekeyedInvocation implements Invocation {
  constructor(
    private readonly call: Invocation,
    readonly group: string,
    readonly version: string,
    readonly serviceKey: string,
  ) {}
  get service(): string {
    return this.call.service;
  }
  get method(): string {
    return this.call.method;
  }
  get args(): unknown[] {
    return this.call.args;
  }
  get attachments(): Record<string, string> {
    return this.call.attachments;
  }
  get settings(): MethodSettings {
    return this.call.settings;
  }
  get deadline(): number {
    return this.call.deadline;
  }
  get remoteAddress(): string | undefined {
    return this.call.remoteAddress;
  }
  get cancelled(): RpcError | undefined {
    return this.call.cancelled;
  }
  get signal(): AbortSignal {
    return this.call.signal;
  }
  addCancelListener(listener: CancelListener): void {
    this.call.addCancelListener(listener);
  }
  removeCancelListener(listener: CancelListener): void {
    this.call.removeCancelListener(listener);
  }
  cancel(reason: RpcError): void {
    this.call.cancel(reason);
  }
  recover(result: Result): void {
    this.call.recover(result);
  }
  get responseAttachments(): Record<string, string> {
    return this.call.responseAttachments;
  }
  get recovered(): Result | undefined {
    return this.call.recovered;
  }
}

/**
 * The invoker of a provider whose service key differs from the reference's (a merged group or
 * version): hands it every call under the provider's own key, which is what the provider
 * exported. Owns `inner` (destroying this destroys it).
 */
export class ServiceKeyInvoker implements Invoker {
  private readonly group: string;
  private readonly version: string;
  private readonly key: string;

  /** `provider` is the provider's registry URL: its `group` and `version` are what it exported. */
  constructor(
    private readonly inner: Invoker,
    provider: URL,
  ) {
    this.group = provider.params.group ?? '';
    this.version = provider.params.version ?? '';
    this.key = serviceKey(provider.path, this.version, this.group);
  }

  get url(): URL {
    return this.inner.url;
  }

  invoke(invocation: Invocation): Promise<Result> {
    return this.inner.invoke(new RekeyedInvocation(invocation, this.group, this.version, this.key));
  }

  isAvailable(): boolean {
    return this.inner.isAvailable ? this.inner.isAvailable() : true;
  }

  streams(method: string): boolean | undefined {
    return this.inner.streams?.(method);
  }

  destroy(): Promise<void> | void {
    return this.inner.destroy?.();
  }
}

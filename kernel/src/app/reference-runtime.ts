import { cancelledError, expiredCall, watchConsumerCall } from '../deadline/call-watch';
import { loopNow } from '../deadline/clock';
import { RpcCode, RpcError } from '../errors/rpc-error';
import type { ExtensionScope } from '../extension/extension-scope';
import { outgoingStorage } from '../pipeline/call-context';
import { buildFilterChain } from '../pipeline/filter-chain';
import { resolveMethodSettings } from '../pipeline/method-settings';
import type { Cluster, ClusterSupport } from '../spi/cluster';
import type { Directory } from '../spi/directory';
import type { Filter } from '../spi/filter';
import { RpcInvocation, type Invocation, type MethodSettings } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { LoadBalance } from '../spi/loadbalance';
import type { Result } from '../spi/result';
import { serviceKey, type URL } from '../url/url';
import type { ReferenceConfig } from '../config/types';
import type { SettingsOverride } from '../cluster/reference-rules';

function valueOf(result: Result): unknown {
  return result.value;
}

/** Generic calls may name any method: past this many, settings are resolved per call, not kept. */
const MAX_CACHED_METHODS = 1024;

/**
 * The end of the consumer chain: hands the call to the cluster invoker of the method's `cluster`
 * policy. Cluster invokers are joined once per policy name and reused.
 */
class ClusterDispatcher implements Invoker, ClusterSupport {
  private readonly clusters = new Map<string, Invoker>();
  private readonly balancers = new Map<string, LoadBalance>();

  constructor(
    private readonly directory: Directory,
    private readonly scope: ExtensionScope,
  ) {}

  get url(): URL {
    return this.directory.url;
  }

  invoke(invocation: Invocation): Promise<Result> {
    const name = invocation.settings.cluster;
    let invoker = this.clusters.get(name);
    if (invoker === undefined) {
      try {
        invoker = this.scope.get<Cluster>('cluster', name).join(this.directory, this);
      } catch (err) {
        return Promise.reject(err);
      }
      this.clusters.set(name, invoker);
    }
    return invoker.invoke(invocation);
  }

  loadBalance(invocation: Invocation): LoadBalance {
    const name = invocation.settings.loadbalance;
    let lb = this.balancers.get(name);
    if (lb === undefined) this.balancers.set(name, (lb = this.scope.get<LoadBalance>('loadbalance', name)));
    return lb;
  }

  isAvailable(): boolean {
    return this.directory.isAvailable();
  }

  /** The joined cluster invokers are this reference's: a policy holding work (failback's queue) stops with it. */
  async destroy(): Promise<void> {
    const joined = [...this.clusters.values()];
    this.clusters.clear();
    await Promise.all(joined.map((invoker) => invoker.destroy?.()));
  }
}

/**
 * One reference on the consumer side: its directory, the consumer filter chain around the cluster
 * (built once), and per-method settings computed on first use of each method. Owns the call's
 * deadline: `timeout` is the budget of the whole call, retries included; when it passes the call
 * rejects with TIMEOUT and is cancelled (the protocol tells the provider).
 */
export class ReferenceRuntime {
  readonly serviceKey: string;
  readonly version: string;
  readonly group: string;
  private readonly chain: Invoker;
  private readonly dispatcher: ClusterDispatcher;
  private readonly settings = new Map<string, MethodSettings>();
  /** Timeout/retries overrides from dynamic rules (registry configurators or `app.rules`), if any. */
  private overrides: SettingsOverride | undefined;
  private ready: Promise<void> | undefined;
  private destroyed = false;

  constructor(
    readonly id: string,
    readonly config: ReferenceConfig,
    readonly directory: Directory,
    readonly scope: ExtensionScope,
    private readonly levels: ReadonlyArray<Readonly<Record<string, unknown>> | undefined>,
    filters: readonly Filter[],
    ready?: Promise<void>,
  ) {
    this.version = config.version ?? '';
    this.group = config.group ?? '';
    this.serviceKey = serviceKey(config.interface, this.version, this.group);
    this.dispatcher = new ClusterDispatcher(directory, scope);
    this.chain = buildFilterChain(this.dispatcher, filters);
    if (ready) {
      this.ready = ready.then(() => {
        this.ready = undefined;
      });
    }
  }

  settingsOf(method: string): MethodSettings {
    let s = this.settings.get(method);
    if (s === undefined) {
      const o = this.overrides;
      // An override beats the config at its own level: a service-level one under a method's own config, a method-level one over it.
      s = resolveMethodSettings(
        method,
        o === undefined ? [...this.levels, this.config.methods?.[method]] : [...this.levels, o.service, this.config.methods?.[method], o.methods[method]],
      );
      if (this.settings.size < MAX_CACHED_METHODS) this.settings.set(method, s);
    }
    return s;
  }

  /**
   * Puts dynamic overrides (timeout, retries) over the config, or takes them away (undefined):
   * the settings cache is rebuilt, so calls made from now on use them; calls in flight keep theirs.
   */
  setOverrides(overrides: SettingsOverride | undefined): void {
    this.overrides = overrides;
    this.settings.clear();
  }

  /**
   * True when `method` is declared `stream: true`, or a provider's service description (a `.proto`)
   * says it streams: the proxy hands back its stream at once. Asked once per method, when the
   * proxy first uses it: a registry-fed reference with no provider listed yet knows only the config.
   */
  streams(method: string): boolean {
    if (this.settingsOf(method).stream) return true;
    for (const invoker of this.directory.all()) if (invoker.streams?.(method) === true) return true;
    return false;
  }

  /**
   * Runs one call through the chain and resolves with the value. `timeout` (ms) replaces the
   * configured budget for this call, as `Plexus.withCallOptions({ timeout })` would, without
   * switching on its async context for the whole process (the kernel's own checks use it).
   */
  call(method: string, args: unknown[], extra?: Record<string, string>, timeout?: number): Promise<unknown> {
    if (this.destroyed) {
      return Promise.reject(new RpcError(`reference ${this.serviceKey} is destroyed`, RpcCode.CANCELLED, { reason: 'PLEXUS_ERR_APP_STATE' }));
    }
    const options = outgoingStorage.getStore();
    const settings = this.settingsOf(method);
    let attachments: Record<string, string>;
    let deadline: number | undefined;
    let signal: AbortSignal | undefined;
    if (options === undefined) {
      attachments = extra === undefined ? {} : { ...extra };
    } else {
      attachments = { ...options.attachments, ...extra };
      if (options.timeout !== undefined) deadline = options.timeout > 0 ? loopNow() + options.timeout : 0;
      signal = options.signal;
    }
    if (timeout !== undefined) deadline = timeout > 0 ? loopNow() + timeout : 0;
    const inv = new RpcInvocation({
      service: this.config.interface,
      method,
      args,
      attachments,
      version: this.version,
      group: this.group,
      serviceKey: this.serviceKey,
      settings,
      deadline,
    });
    if (signal?.aborted) {
      const err = cancelledError(inv, signal.reason);
      inv.cancel(err);
      return Promise.reject(err);
    }
    if (inv.deadline > 0 && inv.deadline <= loopNow()) return expiredCall(inv, 'consumer').then(valueOf);
    const running = this.ready === undefined ? this.chain.invoke(inv) : this.afterReady(inv);
    if (inv.deadline > 0 || signal !== undefined) return watchConsumerCall(inv, running, signal, this.explainTimeout);
    return running.then(valueOf);
  }

  /** The first calls of a registry-fed reference wait for the registry's first list (within their deadline). */
  private afterReady(inv: Invocation): Promise<Result> {
    return this.ready!.then(() => (inv.cancelled !== undefined ? Promise.reject(inv.cancelled) : this.chain.invoke(inv)));
  }

  /** A call that timed out while the registry never listed providers says so, instead of a bare TIMEOUT. */
  private readonly explainTimeout = (timeout: RpcError): RpcError | undefined => {
    if (this.ready === undefined) return undefined;
    return new RpcError(
      `No provider list for ${this.serviceKey} from the registry before the call's deadline` +
        '\n  hint: check that the registry is reachable and that a provider of this service is registered.',
      RpcCode.NO_PROVIDER,
      { reason: 'PLEXUS_ERR_APP_REGISTRY_PENDING', cause: timeout },
    );
  };

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.dispatcher.destroy();
    await this.directory.destroy();
    await this.scope.close();
  }
}

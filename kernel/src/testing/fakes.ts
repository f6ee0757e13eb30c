/**
 * Small builders for tests of clusters, load balancers, executors and filters: method settings,
 * invocations, invokers whose behaviour a test controls, a static directory, a load balancer that
 * picks predictably, and a hand-made `ExtensionContext`. Nothing here touches the network.
 */
import { URL, serviceKey } from '../url/url';
import { RpcInvocation, type Invocation, type MethodSettings } from '../spi/invocation';
import type { Invoker } from '../spi/invoker';
import type { Result } from '../spi/result';
import type { Directory } from '../spi/directory';
import type { LoadBalance } from '../spi/loadbalance';
import type { ClusterSupport } from '../spi/cluster';
import type { Logger } from '../spi/logger';
import type { ExtensionContext } from '../extension/plugin';

/** The service every fake defaults to. */
export const FAKE_SERVICE = 'demo.Greeter';

/**
 * Method settings with the framework's defaults (retries 2, failover, random, idempotent) except
 * `timeout: 0`, so invocations carry no deadline and tests never race the clock; overridden by
 * `overrides`. A fresh frozen object per call.
 */
export function methodSettings(overrides: Partial<MethodSettings> = {}): MethodSettings {
  return Object.freeze({
    method: 'sayHello',
    timeout: 0,
    retries: 2,
    cluster: 'failover',
    loadbalance: 'random',
    serializer: 'msgpack',
    compressor: 'identity',
    compressThreshold: 1024,
    idempotent: true,
    oneWay: false,
    stream: false,
    params: {},
    ...overrides,
  });
}

/** What `fakeInvocation` accepts; every field has a default. */
export interface FakeInvocationInit {
  service?: string;
  method?: string;
  args?: unknown[];
  attachments?: Record<string, string>;
  version?: string;
  group?: string;
  /** Complete settings, or overrides of `methodSettings()`; `method` follows `init.method`. */
  settings?: Partial<MethodSettings>;
  /** Epoch ms; overrides the deadline derived from `settings.timeout`. */
  deadline?: number;
  /** Set for a provider-side call: the consumer's address. */
  remoteAddress?: string;
}

/** An `RpcInvocation` of `demo.Greeter.sayHello('ada')` unless told otherwise. */
export function fakeInvocation(init: FakeInvocationInit = {}): RpcInvocation {
  const service = init.service ?? FAKE_SERVICE;
  const method = init.method ?? init.settings?.method ?? 'sayHello';
  const version = init.version ?? '';
  const group = init.group ?? '';
  const settings = methodSettings({ ...init.settings, method });
  const key = serviceKey(service, version, group);
  return new RpcInvocation({
    service,
    method,
    args: init.args ?? ['ada'],
    attachments: init.attachments ?? {},
    version,
    group,
    serviceKey: key,
    settings,
    deadline: init.deadline,
    remoteAddress: init.remoteAddress,
  });
}

/** How a `FakeInvoker` answers. `handler` wins over `error`, which wins over `value`. */
export interface FakeInvokerOptions {
  /** Resolve with `{ value }`. Default: the invoker's address. */
  value?: unknown;
  /** Reject every call with this. */
  error?: unknown;
  /** Full control: return a Result (or a promise of one) or throw. */
  handler?: (invocation: Invocation, invoker: FakeInvoker) => Result | Promise<Result>;
  /** What `isAvailable()` answers; may be changed later through `available`. Default true. */
  available?: boolean;
}

/** An invoker that records its calls and answers as told. Not thread-safe beyond JS's one thread. */
export class FakeInvoker implements Invoker {
  readonly url: URL;
  /** Every invocation received, in order. */
  readonly invocations: Invocation[] = [];
  available: boolean;
  destroyed = false;
  private readonly options: FakeInvokerOptions;

  constructor(url: URL | string, options: FakeInvokerOptions = {}) {
    this.url = typeof url === 'string' ? URL.parse(url) : url;
    this.options = options;
    this.available = options.available ?? true;
  }

  /** How many times `invoke` ran. */
  get calls(): number {
    return this.invocations.length;
  }

  invoke(invocation: Invocation): Promise<Result> {
    this.invocations.push(invocation);
    const o = this.options;
    try {
      if (o.handler) return Promise.resolve(o.handler(invocation, this));
      if (o.error !== undefined) return Promise.reject(o.error);
      return Promise.resolve({ value: 'value' in o ? o.value : this.url.address });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  isAvailable(): boolean {
    return this.available;
  }

  destroy(): void {
    this.destroyed = true;
  }
}

/** A fake provider at `url` (default `plexus://127.0.0.1:20880/demo.Greeter`). */
export function fakeInvoker(url: URL | string = `plexus://127.0.0.1:20880/${FAKE_SERVICE}`, options: FakeInvokerOptions = {}): FakeInvoker {
  return new FakeInvoker(url, options);
}

/**
 * One fake provider per weight, at `10.0.0.<i+1>:20880`, with `weight=<w>` in its URL and no warmup
 * (no `timestamp` param), so `invokerWeight` returns `w` exactly.
 */
export function fakeProviders(weights: readonly number[], options: FakeInvokerOptions = {}): FakeInvoker[] {
  return weights.map((w, i) => new FakeInvoker(`plexus://10.0.0.${i + 1}:20880/${FAKE_SERVICE}?weight=${w}`, options));
}

/** A directory over a list the test may replace at any time through `invokers`. */
export class FakeDirectory implements Directory {
  readonly url: URL;
  invokers: Invoker[];
  /** How many times `list` ran. */
  listCalls = 0;
  destroyed = false;

  constructor(invokers: Invoker[] = [], url: URL | string = `consumer://127.0.0.1/${FAKE_SERVICE}`) {
    this.invokers = invokers;
    this.url = typeof url === 'string' ? URL.parse(url) : url;
  }

  list(_invocation: Invocation): readonly Invoker[] {
    this.listCalls++;
    return this.invokers;
  }

  all(): readonly Invoker[] {
    return this.invokers;
  }

  isAvailable(): boolean {
    return this.invokers.some((i) => i.isAvailable?.() !== false);
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
  }
}

/** A `FakeDirectory` over `invokers`. */
export function fakeDirectory(invokers: Invoker[] = [], url?: URL | string): FakeDirectory {
  return new FakeDirectory(invokers, url);
}

/** A load balancer that picks with `pick` (default: the first invoker) and counts its calls. */
export class FakeLoadBalance implements LoadBalance {
  selections = 0;
  constructor(private readonly pick: (invokers: readonly Invoker[], invocation: Invocation) => Invoker = (invokers) => invokers[0]) {}
  select(invokers: readonly Invoker[], invocation: Invocation): Invoker {
    this.selections++;
    return this.pick(invokers, invocation);
  }
}

/** The `ClusterSupport` a kernel would hand `Cluster.join`, always answering `loadBalance`. */
export function fakeClusterSupport(loadBalance: LoadBalance = new FakeLoadBalance()): ClusterSupport {
  return { loadBalance: () => loadBalance };
}

/** One line a `MemoryLogger` kept. */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps what it is told in `entries` and prints nothing. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'error', message, fields });
  }
}

/** What `fakeExtensionContext` accepts besides options. */
export interface FakeContextInit {
  logger?: Logger;
  application?: string;
  /** Answers `ctx.resolve(point, name)`; by default every lookup throws. */
  resolve?: (point: string, name?: string) => unknown;
  resolveById?: (point: string, id: number) => unknown;
  inner?: unknown;
  /** Answers `ctx.inject(token)`, by token; other tokens throw. */
  values?: Map<symbol, unknown>;
}

/** An `ExtensionContext` built by hand, for calling a plugin's `create(ctx)` in a unit test. */
export function fakeExtensionContext(options: Record<string, unknown> = {}, init: FakeContextInit = {}): ExtensionContext {
  const resolve = init.resolve;
  const resolveById = init.resolveById;
  return {
    inject<T>(token: symbol): T {
      if (!init.values?.has(token)) throw new Error(`fakeExtensionContext: no value for ${String(token)}`);
      return init.values.get(token) as T;
    },
    options,
    logger: init.logger ?? new MemoryLogger(),
    application: init.application ?? 'test',
    resolve<T>(point: string, name?: string): T {
      if (!resolve) throw new Error(`fakeExtensionContext: no resolve given (asked for ${point} "${name ?? 'default'}")`);
      return resolve(point, name) as T;
    },
    resolveById<T>(point: string, id: number): T | undefined {
      return resolveById ? (resolveById(point, id) as T | undefined) : undefined;
    },
    ...(init.inner !== undefined ? { inner: init.inner } : {}),
  };
}

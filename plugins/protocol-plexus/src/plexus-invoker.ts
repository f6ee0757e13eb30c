import {
  isAsyncIterable,
  loopNow,
  RpcCode,
  RpcError,
  streamArgError,
  streamArgIndex,
  type Compressor,
  type Invocation,
  type Invoker,
  type MethodSettings,
  type Result,
  type Serializer,
  type URL,
} from '@plexus/kernel/spi';
import { PendingCall } from './client-connection';
import { ConsumerStream } from './consumer-stream';
import type { ConnectionPool } from './connection-pool';
import { ProtocolErrors, rpcError } from './errors';
import { encodeRoute, requestHeaderSize, serializeBody, streamRequestEntries, writeRequest } from './frame-codec';
import { FIXED_LENGTH } from './wire';
import { DEFAULT_COMPRESS_THRESHOLD } from './options';
import type { ProtocolCore } from './protocol-core';

const MAX_CACHED_METHODS = 1024;

/** Encoded service-key and method entries, per service key then method: no string built per call. */
export type RouteCache = Map<string, Map<string, Buffer>>;

/** What every call of one method through one invoker shares. */
interface CallPlan {
  readonly method: string;
  readonly serviceKey: string;
  readonly serializer: Serializer;
  readonly compressor: Compressor;
  readonly route: Buffer;
}

/**
 * The consumer-side invoker of one provider address, as `PlexusProtocol.refer` returns it.
 * Encodes each call into one frame and sends it over the address's shared connection.
 * Scope: per reference and provider; safe for any number of concurrent calls.
 */
export class PlexusInvoker implements Invoker {
  private destroyed = false;
  private readonly plans = new WeakMap<MethodSettings, CallPlan>();
  private lastSettings: MethodSettings | undefined = undefined;
  private lastPlan: CallPlan | undefined = undefined;
  /** The `STREAM_WINDOW` entry every request carries when this side's window is not the default. */
  private readonly windowEntry: Buffer | undefined;

  constructor(
    readonly url: URL,
    private readonly core: ProtocolCore,
    private readonly pool: ConnectionPool,
    private readonly routes: RouteCache,
    private readonly release: (pool: ConnectionPool) => void,
  ) {
    // Sent on every request, not only on declared streams: an undeclared method may answer with one.
    this.windowEntry = streamRequestEntries(-1, core.options.streamWindow);
  }

  invoke(inv: Invocation): Promise<Result> {
    const conn = this.pool.pick();
    const refused = this.destroyed ? this.released(inv) : conn.refusal(inv);
    if (refused !== undefined) return Promise.reject(refused);
    const core = this.core;
    const options = core.options;
    const settings = inv.settings;

    // A client stream: its argument's position goes in the header, nil in the serialized arguments.
    let args = inv.args;
    const streamArg = streamArgIndex(args);
    if (streamArg >= 0) {
      for (let i = streamArg + 1; i < args.length; i++) if (isAsyncIterable(args[i])) return Promise.reject(streamArgError(inv));
      if (settings.oneWay === true) {
        return Promise.reject(this.failure(ProtocolErrors.STREAM_ONE_WAY, RpcCode.BAD_REQUEST, `${inv.serviceKey}.${inv.method}`));
      }
      args = args.slice();
      args[streamArg] = null;
    }

    let serializerId: number;
    let serializer: ConsumerStream['itemSerializer'];
    let compressor: Compressor;
    // The body is body[bodyStart .. bodyEnd): the serializer's scratch when it offers one (copied
    // into the frame before it is called again), else a buffer of its own.
    let body: Uint8Array;
    let bodyStart = 0;
    let bodyEnd: number;
    let compressorId = 0;
    let acceptId = 0;
    let plan: CallPlan;
    try {
      const last = this.lastPlan;
      plan = last !== undefined && settings === this.lastSettings && last.method === inv.method && last.serviceKey === inv.serviceKey ? last : this.planFor(inv);
      serializer = plan.serializer;
      compressor = plan.compressor;
      serializerId = serializer.id;
      try {
        const range = serializeBody(serializer, args, compressor.id !== 0);
        body = range.bytes;
        bodyStart = range.start;
        bodyEnd = range.end;
      } catch (err) {
        throw this.failure(ProtocolErrors.SERIALIZE, RpcCode.SERIALIZATION, `the arguments of ${inv.serviceKey}.${inv.method}`, serializer.name, (err as Error).message);
      }
      if (compressor.id !== 0) {
        acceptId = compressor.id;
        if (body.length >= (settings.compressThreshold ?? DEFAULT_COMPRESS_THRESHOLD)) {
          try {
            body = compressor.compress(body);
            bodyEnd = body.length;
          } catch (err) {
            throw this.failure(ProtocolErrors.SERIALIZE, RpcCode.SERIALIZATION, `the arguments of ${inv.serviceKey}.${inv.method}`, compressor.name, (err as Error).message);
          }
          compressorId = compressor.id;
        }
      }
    } catch (err) {
      return Promise.reject(RpcError.from(err, RpcCode.SERIALIZATION));
    }

    let timeout = 0;
    const deadline = inv.deadline;
    if (deadline > 0) {
      timeout = deadline - loopNow();
      if (timeout <= 0) {
        return Promise.reject(this.failure(ProtocolErrors.TIMEOUT, RpcCode.TIMEOUT, `${inv.serviceKey}.${inv.method}`, this.pool.address, settings.timeout ?? 0));
      }
      if (timeout > 0xffffffff) timeout = 0xffffffff;
    }

    const route = plan.route;
    const attachments = inv.attachments;
    const extra = streamArg >= 0 ? streamRequestEntries(streamArg, options.streamWindow) : this.windowEntry;
    const headerLength = requestHeaderSize(route, compressorId, acceptId, timeout, attachments, extra);
    const bodyLength = bodyEnd - bodyStart;
    if (headerLength + bodyLength > options.payload) {
      return Promise.reject(
        this.failure(
          ProtocolErrors.PAYLOAD_TOO_LARGE,
          RpcCode.PAYLOAD_TOO_LARGE,
          `the request ${inv.serviceKey}.${inv.method}`,
          headerLength + bodyLength,
          options.payload,
        ),
      );
    }
    const oneWay = settings.oneWay === true;
    const id = conn.nextRequestId();
    const frameLength = FIXED_LENGTH + headerLength + bodyLength;
    if (oneWay) {
      const slot = conn.beginFrame(frameLength);
      writeRequest(slot.buffer, slot.offset, id, true, route, serializerId, compressorId, acceptId, timeout, attachments, body, bodyStart, bodyEnd, headerLength, extra);
      conn.commitFrame(0);
      return conn.oneWaySent();
    }
    const call = new PendingCall(inv);
    call.accept = acceptId;
    if (streamArg >= 0) {
      const threshold = settings.compressThreshold ?? DEFAULT_COMPRESS_THRESHOLD;
      const itemCompressor = compressor!.id !== 0 ? compressor! : undefined;
      call.stream = new ConsumerStream(id, inv, conn, inv.args[streamArg] as AsyncIterable<unknown>, serializer!, itemCompressor, threshold, options.payload);
    }
    if (conn.register(id, call)) {
      // Encoded in place in the connection's outgoing bytes: no frame buffer, no second copy.
      const slot = conn.beginFrame(frameLength);
      writeRequest(slot.buffer, slot.offset, id, false, route, serializerId, compressorId, acceptId, timeout, attachments, body, bodyStart, bodyEnd, headerLength, extra);
      conn.commitFrame(id, call);
    }
    return call.promise;
  }

  /** False while the provider is closing or its connection is down. */
  isAvailable(): boolean {
    return !this.destroyed && this.pool.isAvailable();
  }

  /** Releases this reference's share of the connection; the last one closes it. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.release(this.pool);
  }

  /**
   * A call that reaches this invoker after it was released (its provider left the list) was not
   * sent anywhere: retryable, so failover moves on to a provider still listed.
   */
  private released(inv: Invocation): RpcError {
    const def = ProtocolErrors.RELEASED;
    return new RpcError(def(`${inv.serviceKey}.${inv.method}`, this.pool.address).message, RpcCode.CANCELLED, {
      reason: def.code,
      retryable: true,
      remote: this.pool.address,
    });
  }

  /**
   * The codecs and route of `inv`'s method, looked up once per method settings (the reference
   * keeps one settings object per method), the last one kept at hand.
   */
  private planFor(inv: Invocation): CallPlan {
    const settings = inv.settings;
    let plan = this.plans.get(settings);
    if (plan === undefined || plan.method !== inv.method || plan.serviceKey !== inv.serviceKey) {
      const core = this.core;
      const options = core.options;
      plan = {
        method: inv.method,
        serviceKey: inv.serviceKey,
        serializer: core.codecs.serializer(settings.serializer || this.url.params.serializer || options.serializer),
        compressor: core.codecs.compressor(settings.compressor || this.url.params.compressor || options.compressor),
        route: this.route(inv.serviceKey, inv.method),
      };
      this.plans.set(settings, plan);
    }
    this.lastSettings = settings;
    this.lastPlan = plan;
    return plan;
  }

  private route(serviceKey: string, method: string): Buffer {
    let methods = this.routes.get(serviceKey);
    if (methods === undefined) this.routes.set(serviceKey, (methods = new Map()));
    let route = methods.get(method);
    if (route === undefined) {
      route = encodeRoute(serviceKey, method);
      // Generic calls may name any method; past a sane table size, encode without caching.
      if (methods.size < MAX_CACHED_METHODS) methods.set(method, route);
    }
    return route;
  }

  private failure<A extends unknown[]>(def: { (...args: A): Error; code: string }, code: RpcCode, ...args: A): RpcError {
    const err = rpcError(def, code, ...args);
    err.remote = this.pool.address;
    return err;
  }
}

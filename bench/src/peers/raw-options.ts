/**
 * Switches of the raw TCP peer, passed from the runner's peer table.
 */
import type { WriteMode } from './raw-frames';

/** When a coalescing side writes what it staged. */
export type FlushPoint = 'read' | 'tick' | 'immediate';

/** Options of the raw peer's server and client. */
export interface RawOptions {
  /** `coalesce` (default) or `perframe`. */
  mode: WriteMode;
  /** Server: flush after each socket read (`read`, default) or on the next tick / setImmediate. */
  serverFlush: FlushPoint;
  /**
   * Client: on the next tick (default) or in setImmediate. Flushing at the end of the socket read
   * that answered the callers measured no better than the tick and is left out.
   */
  clientFlush: Exclude<FlushPoint, 'read'>;
  /**
   * `none` (default): payload bytes are echoed untouched — the transport floor. `msgpack`: the
   * client encodes the payload object for every call and decodes every reply, and the server
   * decodes and re-encodes each frame — the floor for an RPC that must also serialize.
   */
  codec: 'none' | 'msgpack';
}

/** Reads raw-peer options with their defaults. */
export function rawOptions(given: Record<string, unknown> | undefined): RawOptions {
  const o = given ?? {};
  return {
    mode: o.mode === 'perframe' ? 'perframe' : 'coalesce',
    serverFlush: o.serverFlush === 'tick' || o.serverFlush === 'immediate' ? o.serverFlush : 'read',
    clientFlush: o.clientFlush === 'immediate' ? 'immediate' : 'tick',
    codec: o.codec === 'msgpack' ? 'msgpack' : 'none',
  };
}

/** Returns a function that runs `flush` once at `point`, however often it is asked in between. */
export function flushScheduler(point: Exclude<FlushPoint, 'read'>, flush: () => void): () => void {
  let pending = false;
  const run = () => {
    pending = false;
    flush();
  };
  if (point === 'immediate') {
    return () => {
      if (pending) return;
      pending = true;
      setImmediate(run);
    };
  }
  return () => {
    if (pending) return;
    pending = true;
    process.nextTick(run);
  };
}

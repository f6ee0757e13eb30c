import {
  definePlugin,
  type ChannelHandler,
  type ClientChannel,
  type ConnectOptions,
  type ListenOptions,
  type Logger,
  type Transport,
  type TransportServer,
} from '@plexus/kernel/spi';
import { checkEndpoint, duration } from './address';
import { ERR_TCP_BAD_OPTIONS } from './errors';
import { IdleMonitor } from './idle-monitor';
import type { ChannelSettings } from './tcp-channel';
import { TcpClientChannel, type Backoff } from './tcp-client-channel';
import { TcpServer } from './tcp-server';
import { ThrottledLog } from './throttled-log';
import { resolveTls } from './tls-material';
import { Watchdog, watchdogTick } from './watchdog';

/**
 * Transport-wide settings (`extensions.transport.tcp` in plexus.yaml). The limits apply to every
 * server and client channel of the transport; the endpoint options of `listen` and `connect` (the
 * same names, see `EndpointOptions` and `ListenOptions` in the SPI) override them per endpoint.
 * Durations in ms; 0 turns a timeout off and lifts a count or byte limit.
 */
export interface TcpTransportOptions {
  /**
   * Bytes waiting for a peer (queued plus in the socket buffer) above which a channel reports
   * `writable: false`, `write` returns false, and the channel stops reading that peer until its
   * socket buffer drained. Default 1 MiB: thousands of typical answers, enough to keep a fast link
   * busy, and small enough that a peer that never reads costs little.
   */
  writeHighWaterMark?: number;
  /**
   * Bytes waiting for a peer past which its connection is closed with
   * `PLEXUS_ERR_TCP_WRITE_OVERFLOW`. Default 16 MiB: the high-water mark plus the protocol's largest
   * message (8 MiB) with room to spare, so a legitimate large answer never trips it, while a peer
   * that sends cheap requests for large answers and never reads is cut off. 0: no limit.
   */
  writeMaxQueue?: number;
  /**
   * How long a channel above its high-water mark may go without the peer taking any byte before it
   * is closed with `PLEXUS_ERR_TCP_WRITE_STALLED`. Default 10000 ms: far longer than any working peer
   * needs to read something, short enough that a hung or hostile one frees its memory soon.
   */
  writeStallTimeout?: number;
  /**
   * How long a message may take from its first byte to its last (for protocols whose `onData`
   * reports progress, as `plexus` does) before the connection is closed with
   * `PLEXUS_ERR_TCP_FRAME_TIMEOUT`. Default 5000 ms: an 8 MiB message needs 1.7 MB/s, while a peer
   * dribbling bytes to hold the connection and its buffer is dropped within seconds.
   */
  frameTimeout?: number;
  /**
   * TLS servers: how long an accepted connection may take to complete its handshake. Default
   * 5000 ms: a handshake takes a few round trips; connections that never start one are closed.
   */
  handshakeTimeout?: number;
  /**
   * Connections a server holds at once; more are closed as they arrive. Default 10000; keep it
   * below the file descriptor limit (`ulimit -n`) so the process keeps descriptors for its own use.
   */
  maxConnections?: number;
  /**
   * Connections a server holds from one remote IP address; more from that address are closed as
   * they arrive. Default 512: well below `maxConnections`, so a single address cannot lock everyone
   * else out, and far above what one consumer host opens (one per provider per process by default).
   */
  maxConnectionsPerRemote?: number;
  /** How long a graceful close waits for the peer to close its side before cutting it off, ms. Default 5000. */
  closeTimeout?: number;
  /**
   * Frames queued in one event-loop turn after which the channel writes at once instead of at the
   * end of the turn. Default 32: a burst of calls then reaches the peer in slices it can start on
   * while this side is still producing the rest, which measured +65 % calls/s at concurrency 100
   * (114k → 190k, plexus echo, two processes) against one write per turn. Smaller slices cost
   * more syscalls: 16 measured 12 % fewer calls/s and 12 % more CPU per call than 32, 64 fewer
   * calls/s again (plexus echo at c=100, 2026-11). `Infinity` restores one write per turn.
   */
  flushFrames?: number;
  logger?: Logger;
}

/** Defaults of {@link TcpTransport}; durations in ms, sizes in bytes. */
export const TCP_DEFAULTS = {
  writeHighWaterMark: 1024 * 1024,
  writeMaxQueue: 16 * 1024 * 1024,
  writeStallTimeout: 10_000,
  frameTimeout: 5000,
  handshakeTimeout: 5000,
  maxConnections: 10_000,
  maxConnectionsPerRemote: 512,
  closeTimeout: 5000,
  flushFrames: 32,
  heartbeat: 60_000,
  heartbeatMisses: 3,
  connectTimeout: 3000,
  initialDelay: 100,
  maxDelay: 5000,
  backlog: 511,
  listenHost: '0.0.0.0',
  connectHost: '127.0.0.1',
} as const;

/** The limits an endpoint may override, resolved. */
interface Limits {
  writeHighWaterMark: number;
  writeMaxQueue: number;
  writeStallTimeout: number;
  frameTimeout: number;
  handshakeTimeout: number;
  maxConnections: number;
  maxConnectionsPerRemote: number;
}

/**
 * The `tcp` transport: plain TCP, TLS (and mutual TLS) through `node:tls`, and Unix sockets through
 * `path`. Servers come from `listen`, self-reconnecting client channels from `connect`.
 *
 * Scope: one per application. Client channels with the same heartbeat share one coarse idle timer
 * per transport, and those with the same deadlines one watchdog; each server has its own. All
 * timers are unref'd.
 */
export class TcpTransport implements Transport {
  private readonly settings: ChannelSettings;
  private readonly limits: Limits;
  private readonly monitors = new Map<number, IdleMonitor>();
  private readonly watchdogs = new Map<number, Watchdog>();

  constructor(options: TcpTransportOptions = {}) {
    this.limits = resolveLimits(options, undefined);
    this.settings = {
      writeHighWaterMark: this.limits.writeHighWaterMark,
      writeMaxQueue: this.limits.writeMaxQueue,
      writeStallTimeout: this.limits.writeStallTimeout,
      frameTimeout: this.limits.frameTimeout,
      closeTimeout: duration(options.closeTimeout, TCP_DEFAULTS.closeTimeout, 'closeTimeout'),
      flushFrames: flushFrames(options.flushFrames),
      heartbeatMisses: TCP_DEFAULTS.heartbeatMisses,
      logger: options.logger,
      warnings: new ThrottledLog(options.logger),
    };
  }

  async listen(options: ListenOptions, handler: ChannelHandler): Promise<TransportServer> {
    checkEndpoint(options, true);
    const limits = resolveLimits(options, this.limits);
    const settings = this.channelSettings(options.heartbeatMisses, limits);
    return TcpServer.open(
      {
        options,
        host: options.host ?? TCP_DEFAULTS.listenHost,
        tls: options.tls !== undefined ? resolveTls(options.tls) : undefined,
        heartbeat: duration(options.heartbeat, TCP_DEFAULTS.heartbeat, 'heartbeat'),
        backlog: options.backlog ?? TCP_DEFAULTS.backlog,
        handshakeTimeout: limits.handshakeTimeout,
        maxConnections: limits.maxConnections,
        maxConnectionsPerRemote: limits.maxConnectionsPerRemote,
      },
      handler,
      settings,
    );
  }

  /**
   * A client channel to `options`' address; nothing is dialed until `connect()`. Throws
   * `PLEXUS_ERR_TCP_BAD_OPTIONS` or `PLEXUS_ERR_TCP_TLS_CONFIG` for options no attempt could use.
   */
  connect(options: ConnectOptions, handler: ChannelHandler): ClientChannel {
    checkEndpoint(options, false);
    const heartbeat = duration(options.heartbeat, TCP_DEFAULTS.heartbeat, 'heartbeat');
    let backoff: Backoff | undefined;
    if (options.reconnect !== false) {
      const initialDelay = duration(options.reconnect?.initialDelay, TCP_DEFAULTS.initialDelay, 'reconnect.initialDelay');
      const maxDelay = duration(options.reconnect?.maxDelay, TCP_DEFAULTS.maxDelay, 'reconnect.maxDelay');
      backoff = { initialDelay: Math.max(1, initialDelay), maxDelay: Math.max(initialDelay, maxDelay) };
    }
    const settings = this.channelSettings(options.heartbeatMisses, resolveLimits(options, this.limits));
    const tick = watchdogTick(settings.frameTimeout, settings.writeStallTimeout);
    return new TcpClientChannel(handler, settings, {
      options,
      host: options.host ?? TCP_DEFAULTS.connectHost,
      tls: options.tls !== undefined ? resolveTls(options.tls) : undefined,
      connectTimeout: duration(options.connectTimeout, TCP_DEFAULTS.connectTimeout, 'connectTimeout'),
      backoff,
      monitor: heartbeat > 0 ? this.monitorFor(heartbeat) : undefined,
      watchdog: tick !== undefined ? this.watchdogFor(tick) : undefined,
    });
  }

  private channelSettings(heartbeatMisses: number | undefined, limits: Limits): ChannelSettings {
    const base = this.settings;
    const same =
      limits.writeHighWaterMark === base.writeHighWaterMark &&
      limits.writeMaxQueue === base.writeMaxQueue &&
      limits.writeStallTimeout === base.writeStallTimeout &&
      limits.frameTimeout === base.frameTimeout;
    if (heartbeatMisses === undefined && same) return base;
    if (heartbeatMisses !== undefined && (!Number.isInteger(heartbeatMisses) || heartbeatMisses < 1)) {
      throw ERR_TCP_BAD_OPTIONS(`\`heartbeatMisses\` must be a positive integer, got ${String(heartbeatMisses)}`);
    }
    return {
      ...base,
      heartbeatMisses: heartbeatMisses ?? base.heartbeatMisses,
      writeHighWaterMark: limits.writeHighWaterMark,
      writeMaxQueue: limits.writeMaxQueue,
      writeStallTimeout: limits.writeStallTimeout,
      frameTimeout: limits.frameTimeout,
    };
  }

  private monitorFor(heartbeat: number): IdleMonitor {
    let monitor = this.monitors.get(heartbeat);
    if (monitor === undefined) {
      monitor = new IdleMonitor(heartbeat);
      this.monitors.set(heartbeat, monitor);
    }
    return monitor;
  }

  private watchdogFor(tick: number): Watchdog {
    let watchdog = this.watchdogs.get(tick);
    if (watchdog === undefined) {
      watchdog = new Watchdog(tick);
      this.watchdogs.set(tick, watchdog);
    }
    return watchdog;
  }
}

/** The limits of `options`, each falling back to `base` (the transport's) and then to the defaults. */
function resolveLimits(options: TcpTransportOptions | ListenOptions, base: Limits | undefined): Limits {
  const o = options as TcpTransportOptions & ListenOptions;
  const writeHighWaterMark = o.writeHighWaterMark ?? base?.writeHighWaterMark ?? TCP_DEFAULTS.writeHighWaterMark;
  if (typeof writeHighWaterMark !== 'number' || !(writeHighWaterMark >= 1)) {
    throw ERR_TCP_BAD_OPTIONS(`\`writeHighWaterMark\` must be a positive byte count, got ${String(writeHighWaterMark)}`);
  }
  const writeMaxQueue = limit(o.writeMaxQueue, base?.writeMaxQueue, TCP_DEFAULTS.writeMaxQueue, 'writeMaxQueue');
  if (writeMaxQueue < 2 * writeHighWaterMark) {
    throw ERR_TCP_BAD_OPTIONS(
      `\`writeMaxQueue\` (${writeMaxQueue}) must be at least twice \`writeHighWaterMark\` (${writeHighWaterMark}), or 0 for no limit`,
    );
  }
  return {
    writeHighWaterMark,
    writeMaxQueue,
    writeStallTimeout: duration(o.writeStallTimeout, base?.writeStallTimeout ?? TCP_DEFAULTS.writeStallTimeout, 'writeStallTimeout'),
    frameTimeout: duration(o.frameTimeout, base?.frameTimeout ?? TCP_DEFAULTS.frameTimeout, 'frameTimeout'),
    handshakeTimeout: duration(o.handshakeTimeout, base?.handshakeTimeout ?? TCP_DEFAULTS.handshakeTimeout, 'handshakeTimeout'),
    maxConnections: limit(o.maxConnections, base?.maxConnections, TCP_DEFAULTS.maxConnections, 'maxConnections'),
    maxConnectionsPerRemote: limit(o.maxConnectionsPerRemote, base?.maxConnectionsPerRemote, TCP_DEFAULTS.maxConnectionsPerRemote, 'maxConnectionsPerRemote'),
  };
}

/** A count or byte limit: a positive integer, or 0 for none (Infinity). */
function limit(value: number | undefined, inherited: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return inherited ?? fallback;
  if (typeof value !== 'number' || (!Number.isInteger(value) && value !== Infinity) || value < 0) {
    throw ERR_TCP_BAD_OPTIONS(`\`${name}\` must be a non-negative integer (0 for no limit), got ${String(value)}`);
  }
  return value === 0 ? Infinity : value;
}

/** The plugin: the `transport` extension `tcp`, configured by {@link TcpTransportOptions}. */
export default definePlugin({
  name: '@plexus/transport-tcp',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'transport',
      name: 'tcp',
      optionsSchema: {
        type: 'object',
        properties: {
          writeHighWaterMark: { type: 'integer', minimum: 1 },
          writeMaxQueue: { type: 'integer', minimum: 0 },
          writeStallTimeout: { type: 'integer', minimum: 0 },
          frameTimeout: { type: 'integer', minimum: 0 },
          handshakeTimeout: { type: 'integer', minimum: 0 },
          maxConnections: { type: 'integer', minimum: 0 },
          maxConnectionsPerRemote: { type: 'integer', minimum: 0 },
          closeTimeout: { type: 'integer', minimum: 0 },
          flushFrames: { type: 'integer', minimum: 1 },
        },
        additionalProperties: false,
      },
      create: (ctx) => {
        const o = ctx.options as Record<string, number | undefined>;
        return new TcpTransport({
          writeHighWaterMark: o.writeHighWaterMark,
          writeMaxQueue: o.writeMaxQueue,
          writeStallTimeout: o.writeStallTimeout,
          frameTimeout: o.frameTimeout,
          handshakeTimeout: o.handshakeTimeout,
          maxConnections: o.maxConnections,
          maxConnectionsPerRemote: o.maxConnectionsPerRemote,
          closeTimeout: o.closeTimeout,
          flushFrames: o.flushFrames,
          logger: ctx.logger,
        });
      },
    },
  ],
});

function flushFrames(value: number | undefined): number {
  if (value === undefined) return TCP_DEFAULTS.flushFrames;
  if (!(value >= 1)) throw ERR_TCP_BAD_OPTIONS(`\`flushFrames\` must be at least 1, got ${value}`);
  return value;
}

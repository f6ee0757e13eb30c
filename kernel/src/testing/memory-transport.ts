import { defineError } from '../errors/plexus-error';
import {
  ReadProgress,
  type Channel,
  type ChannelHandler,
  type ClientChannel,
  type ConnectOptions,
  type ListenOptions,
  type Transport,
  type TransportServer,
} from '../spi/transport';

/** No in-memory server listens at the address. (The memory transport's errors mirror the TCP transport's.) */
export const ERR_MEMORY_CONNECT_REFUSED = defineError(
  'PLEXUS_ERR_MEMORY_CONNECT_REFUSED',
  (address: string) => `no in-memory server listens on ${address}`,
  'listen on that address with a MemoryTransport in this process first (any instance will do)',
);
/** `listen` on an address another in-memory server holds. */
export const ERR_MEMORY_ADDRESS_IN_USE = defineError(
  'PLEXUS_ERR_MEMORY_ADDRESS_IN_USE',
  (address: string) => `an in-memory server already listens on ${address}`,
  'close the other server first, or listen on port 0 for a free fake port',
);
/** A write on a client channel that is connecting or waiting to reconnect. */
export const ERR_MEMORY_NOT_CONNECTED = defineError(
  'PLEXUS_ERR_MEMORY_NOT_CONNECTED',
  (address: string) => `not connected to ${address} (connecting or waiting to reconnect)`,
  'await channel.connect() before writing',
);
/** A write on a closed channel, or `connect` on a destroyed one. */
export const ERR_MEMORY_CHANNEL_CLOSED = defineError(
  'PLEXUS_ERR_MEMORY_CHANNEL_CLOSED',
  (address: string) => `in-memory channel to ${address} is closed`,
  'the channel was closed or destroyed; open a new one',
);
/** Handed to `onClose` after `heartbeatMisses` idle periods in a row. */
export const ERR_MEMORY_HEARTBEAT_TIMEOUT = defineError(
  'PLEXUS_ERR_MEMORY_HEARTBEAT_TIMEOUT',
  (address: string, idleMs: number) => `no bytes read from ${address} for ${idleMs} ms; closing the channel`,
  'the peer stopped sending; raise heartbeat or heartbeatMisses, or answer onIdle with a heartbeat',
);
/** Handed to `onClose` when a handler callback threw. */
export const ERR_MEMORY_HANDLER = defineError(
  'PLEXUS_ERR_MEMORY_HANDLER',
  (address: string, cause: string) => `the channel handler threw on data from ${address}: ${cause}`,
  'a bug in the protocol above the transport; the channel was closed',
);

/** Options of {@link MemoryTransport}. */
export interface MemoryTransportOptions {
  /**
   * Re-cut the byte stream at random before delivery, so one `onData` may hold part of a write or
   * several writes: the way to test a protocol's framing. `true` uses seed 1 and pieces up to 64 KiB.
   */
  fragment?: boolean | { seed?: number; maxChunk?: number };
  /** Undelivered bytes above which `writable` turns false (default 4 MiB, as the TCP transport). */
  highWaterMark?: number;
}

const DEFAULTS = { highWaterMark: 4 * 1024 * 1024, heartbeat: 60_000, heartbeatMisses: 3, initialDelay: 100, maxDelay: 5000 };

/** Listening servers of every MemoryTransport in the process, keyed by `:port` or the path. */
const listening = new Map<string, MemoryServer>();
let nextFakePort = 40000;
let nextChannelId = 1;

function keyOf(options: { path?: string; port?: number }): string {
  return options.path ?? `:${options.port ?? 0}`;
}

function fakePort(): number {
  for (let i = 0; i < 20000; i++) {
    const port = nextFakePort;
    nextFakePort = nextFakePort >= 59999 ? 40000 : nextFakePort + 1;
    if (!listening.has(`:${port}`)) return port;
  }
  throw new Error('no free fake port left');
}

/** A seeded PRNG (mulberry32) in [0, 1): fragmenting and fuzzing runs are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One coarse unref'd interval that ages channels, as the TCP transport does for heartbeats. */
class IdleClock {
  private readonly channels = new Set<MemoryChannel>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tick: number;
  private readonly ticksPerPeriod: number;

  constructor(private readonly heartbeat: number) {
    this.tick = Math.max(1, Math.floor(heartbeat / 4));
    this.ticksPerPeriod = Math.max(1, Math.round(heartbeat / this.tick));
  }

  add(ch: MemoryChannel): void {
    ch.idleTicks = 0;
    ch.missed = 0;
    this.channels.add(ch);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.age(), this.tick);
      this.timer.unref();
    }
  }

  delete(ch: MemoryChannel): void {
    this.channels.delete(ch);
    if (this.channels.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private age(): void {
    for (const ch of this.channels) {
      if (++ch.idleTicks <= (ch.missed === 0 ? this.ticksPerPeriod : this.ticksPerPeriod - 1)) continue;
      ch.idleTicks = 0;
      ch.missed++;
      ch.idlePeriod(this.heartbeat * ch.missed);
    }
  }
}

interface Wire {
  highWaterMark: number;
  /** Set when fragmenting: the size of the next piece to deliver. */
  cut: ((available: number) => number) | undefined;
}

/**
 * One end of an in-memory connection. Writes are coalesced per event-loop turn and delivered to
 * the peer in a later macrotask (`setImmediate`), never from inside `write`, so reentrancy and
 * ordering resemble a socket. Scope: one per connection end; event loop thread only.
 */
export class MemoryChannel implements Channel {
  readonly id = nextChannelId++;
  remoteAddress = '';
  localAddress = '';
  state: unknown = undefined;
  /** @internal */
  idleTicks = 0;
  /** @internal */
  missed = 0;

  /** @internal The other end; undefined until connected and after teardown. */
  peer: MemoryChannel | undefined;
  private open = false;
  private closing = false;
  private closeError: Error | undefined;
  private outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  private flushScheduled = false;
  private inbox: Buffer[] = [];
  private inboxBytes = 0;
  private deliverScheduled = false;
  /** Bytes this end wrote that its peer has not been handed yet. */
  private inFlight = 0;
  private needDrain = false;
  private clock: IdleClock | undefined;
  /** Set on both ends once either asked to close; torn down when the closer's bytes were delivered. */
  private closeRequestedBy: MemoryChannel | undefined;

  constructor(
    protected readonly handler: ChannelHandler,
    private readonly wire: Wire,
    private readonly heartbeatMisses: number,
    private readonly released?: (ch: MemoryChannel) => void,
  ) {}

  get isOpen(): boolean {
    return this.open && !this.closing;
  }

  get writable(): boolean {
    return this.isOpen && this.inFlight < this.wire.highWaterMark;
  }

  write(bytes: Uint8Array): boolean {
    if (!this.isOpen) throw this.notOpenError();
    if (bytes.byteLength !== 0) {
      this.outbox.push(bytes);
      this.outboxBytes += bytes.byteLength;
      this.inFlight += bytes.byteLength;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    }
    if (this.inFlight < this.wire.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  close(error?: Error): void {
    if (!this.isOpen) return;
    this.closing = true;
    this.closeError = error;
    this.flush();
    const peer = this.peer;
    this.closeRequestedBy = this;
    if (peer === undefined) {
      setImmediate(() => this.teardown());
      return;
    }
    peer.closeRequestedBy = this;
    // The peer first reads everything this end wrote, then both ends close.
    if (peer.inboxBytes === 0 && !peer.deliverScheduled) setImmediate(() => this.teardown());
  }

  protected notOpenError(): Error {
    return ERR_MEMORY_CHANNEL_CLOSED(this.remoteAddress);
  }

  /** @internal Links two ends and tells both handlers, the accepting side first. */
  static link(server: MemoryChannel, client: MemoryChannel, clientLocal: string, serverAddress: string): void {
    server.peer = client;
    client.peer = server;
    server.localAddress = serverAddress;
    server.remoteAddress = clientLocal;
    client.localAddress = clientLocal;
    client.remoteAddress = serverAddress;
    server.reset();
    client.reset();
  }

  /** @internal Starts aging for heartbeats. */
  watch(clock: IdleClock | undefined): void {
    this.clock = clock;
    clock?.add(this);
  }

  /** @internal Hook for client ends: runs after `onClose`. */
  protected detached(): void {}

  /** @internal */
  idlePeriod(idleMs: number): void {
    if (this.missed >= this.heartbeatMisses) {
      this.close(ERR_MEMORY_HEARTBEAT_TIMEOUT(this.remoteAddress, idleMs));
      return;
    }
    if (this.isOpen) this.call(() => this.handler.onIdle?.(this, this.missed));
  }

  /** @internal Runs a handler callback; a throw closes the channel. */
  call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const e = ERR_MEMORY_HANDLER(this.remoteAddress, (err as Error)?.message ?? String(err));
      e.cause = err;
      this.close(e);
    }
  }

  private reset(): void {
    this.open = true;
    this.closing = false;
    this.closeError = undefined;
    this.closeRequestedBy = undefined;
    this.inFlight = 0;
    this.needDrain = false;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outboxBytes === 0) return;
    const chunk = Buffer.concat(this.outbox, this.outboxBytes);
    this.outbox = [];
    this.outboxBytes = 0;
    const peer = this.peer;
    if (peer === undefined || !peer.open) return;
    peer.inbox.push(chunk);
    peer.inboxBytes += chunk.length;
    peer.scheduleDeliver();
  }

  private scheduleDeliver(): void {
    if (this.deliverScheduled) return;
    this.deliverScheduled = true;
    setImmediate(() => this.deliver());
  }

  private deliver(): void {
    this.deliverScheduled = false;
    if (!this.open || this.inboxBytes === 0) return;
    const size = this.wire.cut === undefined ? this.inboxBytes : this.wire.cut(this.inboxBytes);
    const piece = this.take(size);
    const sender = this.peer;
    let progress: ReadProgress | void = undefined;
    this.call(() => (progress = this.handler.onData(this, piece)));
    // As in the TCP transport: a read that leaves a message unfinished (and completes none) is
    // not activity, so a dribbling peer still meets the heartbeat timeout.
    if (typeof progress !== 'number' || (progress & ReadProgress.PARTIAL) === 0 || (progress & ReadProgress.COMPLETE) !== 0) {
      this.idleTicks = 0;
      this.missed = 0;
    }
    if (sender !== undefined) {
      sender.inFlight -= size;
      if (sender.needDrain && sender.isOpen && sender.inFlight < this.wire.highWaterMark) {
        sender.needDrain = false;
        sender.call(() => sender.handler.onDrain?.(sender));
      }
    }
    if (this.inboxBytes > 0) this.scheduleDeliver();
    else if (this.closeRequestedBy !== undefined && this.closeRequestedBy !== this) this.closeRequestedBy.teardown();
  }

  private take(size: number): Buffer {
    const first = this.inbox[0];
    this.inboxBytes -= size;
    if (first.length === size) {
      this.inbox.shift();
      return first;
    }
    if (first.length > size) {
      this.inbox[0] = first.subarray(size);
      return first.subarray(0, size);
    }
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const head = this.inbox[0];
      const n = Math.min(head.length, size - at);
      head.copy(out, at, 0, n);
      at += n;
      if (n === head.length) this.inbox.shift();
      else this.inbox[0] = head.subarray(n);
    }
    return out;
  }

  /** Closes both ends: the peer hears of it first (without an error), then this end. */
  private teardown(): void {
    const peer = this.peer;
    if (peer !== undefined && peer.peer === this) peer.end(undefined);
    this.end(this.closeError);
  }

  private end(error: Error | undefined): void {
    if (!this.open) return;
    this.open = false;
    this.closing = false;
    this.peer = undefined;
    this.outbox = [];
    this.outboxBytes = 0;
    this.inbox = [];
    this.inboxBytes = 0;
    this.clock?.delete(this);
    this.clock = undefined;
    try {
      this.handler.onClose?.(this, error);
    } finally {
      this.released?.(this);
      this.detached();
    }
  }
}

/** The client end: dials on `connect()`, reconnects with backoff after an unexpected close. */
export class MemoryClientChannel extends MemoryChannel implements ClientChannel {
  private phase: 'idle' | 'connecting' | 'open' | 'backoff' | 'destroyed' = 'idle';
  private everOpen = false;
  private failures = 0;
  private waiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly target: string;

  constructor(
    handler: ChannelHandler,
    wire: Wire,
    private readonly options: ConnectOptions,
    private readonly idleClock: IdleClock | undefined,
  ) {
    super(handler, wire, options.heartbeatMisses ?? DEFAULTS.heartbeatMisses);
    this.target = options.path ?? `${options.host ?? '127.0.0.1'}:${options.port}`;
    this.remoteAddress = this.target;
  }

  connect(): Promise<void> {
    if (this.phase === 'destroyed') return Promise.reject(ERR_MEMORY_CHANNEL_CLOSED(this.target));
    if (this.isOpen) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.phase === 'idle') this.dial();
    return done;
  }

  destroy(): void {
    if (this.phase === 'destroyed') return;
    this.phase = 'destroyed';
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.settle(ERR_MEMORY_CHANNEL_CLOSED(this.target));
    this.close();
  }

  protected override notOpenError(): Error {
    return this.phase === 'destroyed' ? ERR_MEMORY_CHANNEL_CLOSED(this.target) : ERR_MEMORY_NOT_CONNECTED(this.target);
  }

  protected override detached(): void {
    if (this.phase === 'destroyed') return;
    if (this.options.reconnect !== false) this.retryLater();
    else if (this.waiters.length > 0) this.dial();
    else this.phase = 'idle';
  }

  private dial(): void {
    this.phase = 'connecting';
    setImmediate(() => {
      if (this.phase !== 'connecting') return;
      const server = listening.get(keyOf(this.options));
      if (server === undefined) {
        this.settle(ERR_MEMORY_CONNECT_REFUSED(this.target));
        if (this.everOpen && this.options.reconnect !== false) this.retryLater();
        else this.phase = 'idle';
        return;
      }
      this.phase = 'open';
      this.everOpen = true;
      this.failures = 0;
      server.accept(this);
      this.watch(this.idleClock);
      this.settle(undefined);
      if (this.isOpen) this.call(() => this.handler.onOpen?.(this));
    });
  }

  private retryLater(): void {
    const reconnect = this.options.reconnect || {};
    const initial = Math.max(1, reconnect.initialDelay ?? DEFAULTS.initialDelay);
    const ceiling = Math.min(Math.max(initial, reconnect.maxDelay ?? DEFAULTS.maxDelay), initial * 2 ** Math.min(this.failures, 30));
    this.failures++;
    this.phase = 'backoff';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.phase === 'backoff') this.dial();
    }, ceiling / 2 + Math.random() * (ceiling / 2));
    this.timer.unref();
  }

  private settle(error: Error | undefined): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) if (error === undefined) w.resolve();
    else w.reject(error);
  }
}

/** A listening in-memory server. Scope: one per address in the process. */
export class MemoryServer implements TransportServer {
  readonly address: string;
  readonly port: number;
  private readonly live = new Set<MemoryChannel>();
  private readonly clock: IdleClock | undefined;
  private readonly key: string;
  private closed: Promise<void> | undefined;
  private nextClientPort = 50000;

  /** @internal Use {@link MemoryTransport.listen}. */
  constructor(
    private readonly options: ListenOptions,
    private readonly handler: ChannelHandler,
    private readonly wire: Wire,
  ) {
    this.port = options.path !== undefined ? 0 : options.port || fakePort();
    this.address = options.path ?? `${options.host ?? '127.0.0.1'}:${this.port}`;
    this.key = keyOf({ path: options.path, port: this.port });
    const heartbeat = options.heartbeat ?? DEFAULTS.heartbeat;
    this.clock = heartbeat > 0 ? new IdleClock(heartbeat) : undefined;
    if (listening.has(this.key)) throw ERR_MEMORY_ADDRESS_IN_USE(this.address);
    listening.set(this.key, this);
  }

  channels(): Iterable<Channel> {
    return this.live.values();
  }

  /** @internal Accepts a dialing client end. */
  accept(client: MemoryChannel): void {
    const end = new MemoryChannel(
      this.handler,
      this.wire,
      this.options.heartbeatMisses ?? DEFAULTS.heartbeatMisses,
      (ch) => {
        this.live.delete(ch);
        if (this.closed !== undefined && this.live.size === 0) this.allClosed?.();
      },
    );
    const clientLocal = this.options.path ?? `127.0.0.1:${this.nextClientPort++}`;
    MemoryChannel.link(end, client, clientLocal, this.address);
    this.live.add(end);
    end.watch(this.clock);
    end.call(() => this.handler.onOpen?.(end));
  }

  private allClosed: (() => void) | undefined;

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (listening.get(this.key) === this) listening.delete(this.key);
      if (this.live.size === 0) {
        resolve();
        return;
      }
      this.allClosed = resolve;
      for (const ch of [...this.live]) ch.close();
    });
    return this.closed;
  }
}

/**
 * An in-process {@link Transport} without sockets, for wiring real plugins together in tests. A
 * client of any instance reaches a server of any other in the same process by address (`host:port`
 * — the host is not compared — or a path); port 0 picks a free fake port. Heartbeats (with the
 * rule that reads leaving a message unfinished are not activity), `writable`/`onDrain` and
 * reconnecting behave as in the TCP transport. Not imitated: pausing reads when backed up, the
 * write queue limits, `frameTimeout`, connection caps, `connectTimeout` and `tls` — test those
 * against the TCP transport.
 * Scope: any number per process.
 */
export class MemoryTransport implements Transport {
  private readonly wire: Wire;
  private readonly clocks = new Map<number, IdleClock>();

  constructor(options: MemoryTransportOptions = {}) {
    let cut: Wire['cut'];
    if (options.fragment) {
      const f = options.fragment === true ? {} : options.fragment;
      const next = seededRandom(f.seed ?? 1);
      const maxChunk = Math.max(1, f.maxChunk ?? 65536);
      // Half the pieces are tiny (1..16 bytes) so headers get split too; the rest up to maxChunk.
      cut = (available) => {
        const limit = Math.min(available, next() < 0.5 ? 16 : maxChunk);
        return 1 + Math.floor(next() * limit);
      };
    }
    this.wire = { highWaterMark: options.highWaterMark ?? DEFAULTS.highWaterMark, cut };
  }

  /** Addresses with a listening in-memory server, for debugging leaks between tests. */
  static listening(): string[] {
    return [...listening.values()].map((s) => s.address);
  }

  async listen(options: ListenOptions, handler: ChannelHandler): Promise<TransportServer> {
    await Promise.resolve();
    return new MemoryServer(options, handler, this.wire);
  }

  connect(options: ConnectOptions, handler: ChannelHandler): ClientChannel {
    const heartbeat = options.heartbeat ?? DEFAULTS.heartbeat;
    let clock: IdleClock | undefined;
    if (heartbeat > 0) {
      clock = this.clocks.get(heartbeat);
      if (clock === undefined) this.clocks.set(heartbeat, (clock = new IdleClock(heartbeat)));
    }
    return new MemoryClientChannel(handler, this.wire, options, clock);
  }
}

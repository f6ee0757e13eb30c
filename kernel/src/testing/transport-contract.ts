import { PlexusError } from '../errors/plexus-error';
import type {
  Channel,
  ChannelHandler,
  ClientChannel,
  ConnectOptions,
  ListenOptions,
  Transport,
  TransportServer,
} from '../spi/transport';

/** How the contract reaches a transport: where to listen and how to connect to that server. */
export interface TransportContractOptions {
  /** Listen options for a fresh server (default `{ host: '127.0.0.1', port: 0 }`). Heartbeats are turned off. */
  listen?: () => ListenOptions;
  /** Connect options for `server` (default its host and port). Reconnecting is turned off unless a test asks. */
  connect?: (server: TransportServer, listen: ListenOptions) => ConnectOptions;
  /** Upper bound for one wait on the transport, in ms (default 10000); a guard against hangs, not a timing assertion. */
  waitLimit?: number;
}

/** A recording handler: what a protocol would see, plus waits on it. */
export class RecordingHandler implements ChannelHandler {
  readonly opened: Channel[] = [];
  readonly closed: Array<{ channel: Channel; error?: Error }> = [];
  readonly drained: Channel[] = [];
  private readonly chunks = new Map<Channel, Buffer[]>();
  private readonly waits = new Set<() => void>();

  constructor(
    private readonly echo = false,
    private readonly waitLimit = 10_000,
  ) {}

  onOpen(channel: Channel): void {
    this.opened.push(channel);
    this.changed();
  }

  onData(channel: Channel, chunk: Buffer): void {
    let list = this.chunks.get(channel);
    if (list === undefined) this.chunks.set(channel, (list = []));
    list.push(Buffer.from(chunk));
    if (this.echo && channel.isOpen) channel.write(chunk);
    this.changed();
  }

  onDrain(channel: Channel): void {
    this.drained.push(channel);
    this.changed();
  }

  onClose(channel: Channel, error?: Error): void {
    this.closed.push({ channel, error });
    this.changed();
  }

  /** Every byte read on `channel` so far. */
  received(channel: Channel): Buffer {
    return Buffer.concat(this.chunks.get(channel) ?? []);
  }

  receivedBytes(channel: Channel): number {
    let n = 0;
    for (const c of this.chunks.get(channel) ?? []) n += c.length;
    return n;
  }

  /** Resolves once `condition` holds, re-checked after every callback. */
  until(condition: () => boolean, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waits.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waits.delete(check);
        reject(new Error(`transport contract: gave up waiting for ${what}`));
      }, this.waitLimit);
      this.waits.add(check);
    });
  }

  private changed(): void {
    for (const check of [...this.waits]) check();
  }
}

/** Deterministic bytes: the same test always sends the same payload. */
export function patternBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The rejection of `promise`, or undefined when it resolved. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return err;
  }
}

/** What `fn` threw, or undefined. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

function expectCoded(error: unknown): void {
  expect(PlexusError.is(error)).toBe(true);
  expect((error as PlexusError).code).toMatch(/^PLEXUS_ERR_[A-Z0-9_]+$/);
  expect((error as PlexusError).hint).toBeTruthy();
}

/**
 * The behaviour every {@link Transport} must show, as a jest suite: listen and connect, echo,
 * ordering of many small writes, a 4 MiB write, backpressure, closing from either side and from the
 * server, reconnecting, coded errors and channel addresses. Call it at the top level of a test file:
 * `transportContract('tcp', () => new TcpTransport())`.
 */
export function transportContract(name: string, create: () => Transport, options: TransportContractOptions = {}): void {
  const listenOptions = (): ListenOptions => ({ ...(options.listen?.() ?? { host: '127.0.0.1', port: 0 }), heartbeat: 0 });
  const connectOptions = (server: TransportServer, listen: ListenOptions, extra: Partial<ConnectOptions> = {}): ConnectOptions => ({
    ...(options.connect?.(server, listen) ?? { host: '127.0.0.1', port: server.port }),
    heartbeat: 0,
    reconnect: false,
    ...extra,
  });
  const waitLimit = options.waitLimit ?? 10_000;

  describe(`transport contract: ${name}`, () => {
    let transport: Transport;
    let servers: TransportServer[];
    let clients: ClientChannel[];

    beforeEach(() => {
      transport = create();
      servers = [];
      clients = [];
    });

    afterEach(async () => {
      for (const c of clients) c.destroy();
      await Promise.all(servers.map((s) => s.close()));
    });

    async function serve(handler: ChannelHandler, listen = listenOptions()): Promise<TransportServer> {
      const server = await transport.listen(listen, handler);
      servers.push(server);
      return server;
    }

    async function pair(echo = false, extra: Partial<ConnectOptions> = {}) {
      const serverSide = new RecordingHandler(echo, waitLimit);
      const clientSide = new RecordingHandler(false, waitLimit);
      const listen = listenOptions();
      const server = await serve(serverSide, listen);
      const client = transport.connect(connectOptions(server, listen, extra), clientSide);
      clients.push(client);
      await client.connect();
      await serverSide.until(() => serverSide.opened.length === 1, 'the server to see the connection');
      return { server, client, serverSide, clientSide, serverChannel: serverSide.opened[0], listen };
    }

    it('listens, connects and opens a channel on both sides', async () => {
      const { server, client, clientSide, serverChannel } = await pair();
      expect(server.address).not.toBe('');
      if (listenOptions().path === undefined) expect(server.port).toBeGreaterThan(0);
      expect(client.isOpen).toBe(true);
      expect(serverChannel.isOpen).toBe(true);
      expect(clientSide.opened).toEqual([client]);
      expect([...server.channels()]).toEqual([serverChannel]);
      expect(client.id).not.toBe(serverChannel.id);
    });

    it('sets the addresses of both channel ends', async () => {
      const { server, client, serverChannel } = await pair();
      expect(client.remoteAddress).toBe(server.address);
      expect(serverChannel.localAddress).toBe(server.address);
      expect(client.localAddress).not.toBe('');
      expect(serverChannel.remoteAddress).toBe(client.localAddress);
    });

    it('echoes bytes', async () => {
      const { client, clientSide } = await pair(true);
      client.write(Buffer.from('hello, plexus'));
      await clientSide.until(() => clientSide.receivedBytes(client) === 13, 'the echo');
      expect(clientSide.received(client).toString()).toBe('hello, plexus');
    });

    it('delivers many small writes intact and in order, in one turn and across turns', async () => {
      const { client, serverSide, serverChannel } = await pair();
      const frames: Buffer[] = [];
      for (let i = 0; i < 3000; i++) {
        const frame = patternBytes(100 + (i % 101), i + 1);
        frame.writeUInt32BE(i, 0);
        frames.push(frame);
      }
      // 1000 in one turn, then 2000 spread over 40 turns.
      for (let i = 0; i < 1000; i++) client.write(frames[i]);
      for (let i = 1000; i < 3000; i++) {
        client.write(frames[i]);
        if (i % 50 === 0) await nextTurn();
      }
      const expected = Buffer.concat(frames);
      await serverSide.until(() => serverSide.receivedBytes(serverChannel) >= expected.length, 'all small frames');
      expect(serverSide.received(serverChannel).equals(expected)).toBe(true);
    });

    it('reserve (when offered): slots filled in place arrive intact and in order with writes, large and small, across flush slices', async () => {
      const { client, serverSide, serverChannel } = await pair();
      if (client.reserve === undefined) {
        // Optional: a transport without it is written to with `write` only.
        expect(client.reserve).toBeUndefined();
        return;
      }
      const frames: Buffer[] = [];
      for (let i = 0; i < 2000; i++) {
        // mostly small frames, now and then one larger than any staging buffer would hold
        const frame = patternBytes(i % 97 === 0 ? 40_000 + i : 60 + (i % 131), i + 1);
        frame.writeUInt32BE(i, 0);
        frames.push(frame);
      }
      for (let i = 0; i < frames.length; i++) {
        const frame = frames[i];
        if (i % 3 === 0) {
          client.write(frame);
        } else {
          const slot = client.reserve(frame.length);
          frame.copy(slot.buffer, slot.offset);
        }
        if (i % 400 === 399) await nextTurn();
      }
      const expected = Buffer.concat(frames);
      await serverSide.until(() => serverSide.receivedBytes(serverChannel) >= expected.length, 'every reserved and written frame');
      expect(serverSide.received(serverChannel).equals(expected)).toBe(true);
      const closed = serverChannel;
      closed.close();
      await serverSide.until(() => !closed.isOpen, 'the close');
      expect(() => closed.reserve!(10)).toThrow();
    });

    it('delivers a 4 MiB write intact in both directions', async () => {
      const { client, clientSide } = await pair(true);
      const big = patternBytes(4 * 1024 * 1024, 7);
      client.write(big);
      await clientSide.until(() => clientSide.receivedBytes(client) >= big.length, 'the 4 MiB echo');
      expect(clientSide.received(client).equals(big)).toBe(true);
    });

    it('reports backpressure past the high-water mark and drains without losing bytes', async () => {
      const { client, clientSide, serverSide, serverChannel } = await pair();
      const piece = patternBytes(256 * 1024, 3);
      let refused = 0;
      for (let i = 0; i < 48; i++) if (!client.write(piece)) refused++;
      expect(refused).toBeGreaterThan(0);
      expect(client.writable).toBe(false);
      await clientSide.until(() => clientSide.drained.length > 0, 'onDrain');
      expect(client.writable).toBe(true);
      await serverSide.until(() => serverSide.receivedBytes(serverChannel) >= 48 * piece.length, 'all 12 MiB');
      expect(serverSide.received(serverChannel).equals(Buffer.concat(Array(48).fill(piece)))).toBe(true);
    });

    it('closes from the client: both sides hear onClose, queued bytes arrive first', async () => {
      const { client, clientSide, serverSide, serverChannel } = await pair();
      client.write(Buffer.from('last words'));
      client.close();
      expect(client.isOpen).toBe(false);
      await serverSide.until(() => serverSide.closed.length === 1, 'server-side onClose');
      await clientSide.until(() => clientSide.closed.length === 1, 'client-side onClose');
      expect(serverSide.received(serverChannel).toString()).toBe('last words');
      expect(serverSide.closed[0].channel).toBe(serverChannel);
      expect(clientSide.closed[0].channel).toBe(client);
      expect(serverChannel.isOpen).toBe(false);
    });

    it('closes from the server: the client hears onClose', async () => {
      const { client, clientSide, serverSide, serverChannel, server } = await pair();
      serverChannel.write(Buffer.from('goodbye'));
      serverChannel.close();
      await clientSide.until(() => clientSide.closed.length === 1, 'client-side onClose');
      await serverSide.until(() => serverSide.closed.length === 1, 'server-side onClose');
      expect(clientSide.received(client).toString()).toBe('goodbye');
      expect(client.isOpen).toBe(false);
      expect([...server.channels()]).toEqual([]);
    });

    it('server close() closes every channel and stops accepting', async () => {
      const { server, client, clientSide, serverSide, listen } = await pair();
      const second = new RecordingHandler(false, waitLimit);
      const other = transport.connect(connectOptions(server, listen), second);
      clients.push(other);
      await other.connect();
      await serverSide.until(() => serverSide.opened.length === 2, 'the server to see the second connection');
      await server.close();
      await clientSide.until(() => clientSide.closed.length === 1, 'first client onClose');
      await second.until(() => second.closed.length === 1, 'second client onClose');
      await serverSide.until(() => serverSide.closed.length === 2, 'server-side onClose for both');
      expect([...server.channels()]).toEqual([]);
      expect(client.isOpen).toBe(false);
      expectCoded(await failure(client.connect()));
    });

    it('rejects a connect to a closed address with a coded error', async () => {
      const listen = listenOptions();
      const server = await transport.listen(listen, new RecordingHandler());
      const options = connectOptions(server, listen);
      await server.close();
      const client = transport.connect(options, new RecordingHandler());
      clients.push(client);
      expectCoded(await failure(client.connect()));
      expect(client.isOpen).toBe(false);
    });

    it('throws a coded error on a write while not connected', async () => {
      const { client, clientSide } = await pair();
      client.close();
      expectCoded(thrown(() => client.write(Buffer.from('x'))));
      await clientSide.until(() => clientSide.closed.length === 1, 'onClose');
      expect(client.writable).toBe(false);
    });

    it('destroy() closes for good', async () => {
      const { client, clientSide, serverSide } = await pair();
      client.destroy();
      await clientSide.until(() => clientSide.closed.length === 1, 'client onClose');
      await serverSide.until(() => serverSide.closed.length === 1, 'server onClose');
      expectCoded(await failure(client.connect()));
      expectCoded(thrown(() => client.write(Buffer.from('x'))));
    });

    it('reconnects by itself after the server restarts on the same address', async () => {
      const { server, client, clientSide, listen } = await pair(true, { reconnect: { initialDelay: 10, maxDelay: 40 } });
      const bound: ListenOptions = listen.path !== undefined ? listen : { ...listen, port: server.port };
      await server.close();
      await clientSide.until(() => clientSide.closed.length === 1, 'onClose after the server closed');
      expectCoded(thrown(() => client.write(Buffer.from('x'))));
      const again = new RecordingHandler(true, waitLimit);
      await serve(again, bound);
      await clientSide.until(() => clientSide.opened.length === 2, 'onOpen after reconnecting');
      await client.connect();
      client.write(Buffer.from('again'));
      await clientSide.until(() => clientSide.receivedBytes(client) === 5, 'the echo after reconnecting');
      expect(clientSide.received(client).toString()).toBe('again');
      expect(clientSide.opened).toEqual([client, client]);
    });
  });
}

import type {
  Channel,
  ChannelHandler,
  ClientChannel,
  ConnectOptions,
  ListenOptions,
  Transport,
  TransportServer,
} from '@plexus/kernel/spi';

/** Wraps a transport and keeps what it opened, so tests can count connections. */
export class SpyTransport implements Transport {
  readonly servers: TransportServer[] = [];
  readonly clients: ClientChannel[] = [];
  constructor(readonly inner: Transport) {}

  async listen(options: ListenOptions, handler: ChannelHandler): Promise<TransportServer> {
    const server = await this.inner.listen(options, handler);
    this.servers.push(server);
    return server;
  }

  connect(options: ConnectOptions, handler: ChannelHandler): ClientChannel {
    const channel = this.inner.connect(options, handler);
    this.clients.push(channel);
    return channel;
  }

  /** Open server-side channels of every server. */
  serverChannels(): Channel[] {
    return this.servers.flatMap((s) => [...s.channels()]).filter((c) => c.isOpen);
  }
}

/** A raw client that sends hand-made bytes and records what comes back. */
export class RawClient implements ChannelHandler {
  readonly received: Buffer[] = [];
  closed = false;
  closeError: Error | undefined;
  channel!: ClientChannel;

  static async open(transport: Transport, host: string, port: number): Promise<RawClient> {
    const raw = new RawClient();
    raw.channel = transport.connect({ host, port, heartbeat: 0, reconnect: false }, raw);
    await raw.channel.connect();
    return raw;
  }

  onData(_channel: Channel, chunk: Buffer): void {
    this.received.push(Buffer.from(chunk));
  }

  onClose(_channel: Channel, error?: Error): void {
    this.closed = true;
    this.closeError = error;
  }

  get bytes(): Buffer {
    return Buffer.concat(this.received);
  }
}

import { PlexusError, ReadProgress, type Channel, type ClientChannel, type TransportServer } from '@plexus/kernel/spi';
import { MemoryTransport, RecordingHandler, patternBytes } from '@plexus/kernel/testing';

// The in-memory transport's own behaviour beyond the shared contract (run in contract.test.ts).

let servers: TransportServer[] = [];
let clients: ClientChannel[] = [];
afterEach(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  clients = [];
  expect(MemoryTransport.listening()).toEqual([]);
});

describe('MemoryTransport', () => {
  it('lets a client of one instance reach a server of another, by port alone', async () => {
    const serverSide = new RecordingHandler(true);
    const server = await new MemoryTransport().listen({ host: '0.0.0.0', port: 0 }, serverSide);
    servers.push(server);
    expect(server.port).toBeGreaterThan(0);
    const clientSide = new RecordingHandler();
    const client = new MemoryTransport().connect({ host: '127.0.0.1', port: server.port }, clientSide);
    clients.push(client);
    await client.connect();
    client.write(Buffer.from('ping'));
    await clientSide.until(() => clientSide.receivedBytes(client) === 4, 'the echo');
    expect(clientSide.received(client).toString()).toBe('ping');
  });

  it('refuses a second server on a taken address', async () => {
    const transport = new MemoryTransport();
    const server = await transport.listen({ port: 0 }, new RecordingHandler());
    servers.push(server);
    const error = await transport.listen({ port: server.port }, new RecordingHandler()).catch((e: unknown) => e);
    expect(PlexusError.is(error, 'PLEXUS_ERR_MEMORY_ADDRESS_IN_USE')).toBe(true);
  });

  it('never delivers inside write(): the peer reads in a later macrotask', async () => {
    const transport = new MemoryTransport();
    const serverSide = new RecordingHandler();
    const server = await transport.listen({ path: '/memory/reentrancy' }, serverSide);
    servers.push(server);
    const client = transport.connect({ path: '/memory/reentrancy' }, new RecordingHandler());
    clients.push(client);
    await client.connect();
    await serverSide.until(() => serverSide.opened.length === 1, 'the connection');
    const channel = serverSide.opened[0];
    client.write(Buffer.from('a'));
    client.write(Buffer.from('b'));
    await Promise.resolve();
    expect(serverSide.receivedBytes(channel)).toBe(0);
    await serverSide.until(() => serverSide.receivedBytes(channel) === 2, 'the bytes');
    expect(serverSide.received(channel).toString()).toBe('ab');
  });

  it('re-cuts the stream when fragmenting: pieces split writes and merge them, bytes stay in order', async () => {
    const transport = new MemoryTransport({ fragment: { seed: 9, maxChunk: 512 } });
    const sizes: number[] = [];
    const serverSide = new RecordingHandler();
    const record = Object.assign(serverSide, {
      onData: (ch: Channel, chunk: Buffer) => {
        sizes.push(chunk.length);
        RecordingHandler.prototype.onData.call(serverSide, ch, chunk);
      },
    });
    const server = await transport.listen({ port: 0 }, record);
    servers.push(server);
    const client = transport.connect({ port: server.port }, new RecordingHandler());
    clients.push(client);
    await client.connect();
    const writes = Array.from({ length: 200 }, (_, i) => patternBytes(40, i + 1));
    for (const w of writes) {
      client.write(w);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const expected = Buffer.concat(writes);
    await serverSide.until(() => serverSide.opened.length === 1 && serverSide.receivedBytes(serverSide.opened[0]) === expected.length, 'all bytes');
    expect(serverSide.received(serverSide.opened[0]).equals(expected)).toBe(true);
    expect(sizes.some((n) => n < 40)).toBe(true);
    expect(sizes.some((n) => n > 40)).toBe(true);
    expect(sizes.length).not.toBe(writes.length);
  });

  it('fires onIdle and closes after heartbeatMisses, as the TCP transport does', async () => {
    const transport = new MemoryTransport();
    const idle: number[] = [];
    const serverSide = Object.assign(new RecordingHandler(), { onIdle: (_ch: Channel, missed: number) => idle.push(missed) });
    const server = await transport.listen({ port: 0, heartbeat: 40, heartbeatMisses: 3 }, serverSide);
    servers.push(server);
    const clientSide = new RecordingHandler();
    const client = transport.connect({ port: server.port, heartbeat: 0, reconnect: false }, clientSide);
    clients.push(client);
    await client.connect();
    await serverSide.until(() => serverSide.closed.length === 1, 'the heartbeat close');
    expect(idle).toEqual([1, 2]);
    expect(PlexusError.is(serverSide.closed[0].error, 'PLEXUS_ERR_MEMORY_HEARTBEAT_TIMEOUT')).toBe(true);
    await clientSide.until(() => clientSide.closed.length === 1, 'the client to see it');
  });

  it('closes the channel when a handler throws', async () => {
    const transport = new MemoryTransport();
    const serverSide = Object.assign(new RecordingHandler(), {
      onData: () => {
        throw new Error('bad frame');
      },
    });
    const server = await transport.listen({ port: 0 }, serverSide);
    servers.push(server);
    const client = transport.connect({ port: server.port, reconnect: false }, new RecordingHandler());
    clients.push(client);
    await client.connect();
    client.write(Buffer.from('x'));
    await serverSide.until(() => serverSide.closed.length === 1, 'the close');
    expect(PlexusError.is(serverSide.closed[0].error, 'PLEXUS_ERR_MEMORY_HANDLER')).toBe(true);
  });
});

describe('MemoryTransport and ReadProgress', () => {
  it('does not count reads that leave a message unfinished as activity for heartbeats', async () => {
    const transport = new MemoryTransport();
    const closes: Array<Error | undefined> = [];
    // Every read reports an unfinished message, as a decoder fed a dribble would.
    const server = await transport.listen({ port: 0, heartbeat: 60, heartbeatMisses: 2 }, {
      onData: () => ReadProgress.PARTIAL,
      onClose: (_ch, error) => closes.push(error),
    });
    const client = transport.connect({ port: server.port, heartbeat: 0, reconnect: false }, { onData() {} });
    await client.connect();
    const dribble = setInterval(() => client.isOpen && client.write(Buffer.from('x')), 10);
    try {
      const end = Date.now() + 5000;
      while (closes.length === 0 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      clearInterval(dribble);
      client.destroy();
      await server.close();
    }
    expect((closes[0] as { code?: string } | undefined)?.code).toBe('PLEXUS_ERR_MEMORY_HEARTBEAT_TIMEOUT');
  });
});

import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';
import { PlexusError, type Channel, type ClientChannel, type TransportServer } from '@plexus/kernel/spi';
import { RecordingHandler, patternBytes } from '@plexus/kernel/testing';
import plugin, { TcpTransport } from '../src/tcp-transport';
import { fixture, socketDir } from './helpers';

const LOCAL = '127.0.0.1';

/** Servers and clients made by a test, closed after it. */
let servers: Array<{ close(): unknown }> = [];
let clients: ClientChannel[] = [];
afterEach(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  clients = [];
});

async function listen(transport: TcpTransport, handler: RecordingHandler, extra: object = {}): Promise<TransportServer> {
  const server = await transport.listen({ host: LOCAL, port: 0, heartbeat: 0, ...extra }, handler);
  servers.push(server);
  return server;
}

function connect(transport: TcpTransport, handler: RecordingHandler, extra: object): ClientChannel {
  const client = transport.connect({ host: LOCAL, heartbeat: 0, reconnect: false, ...extra }, handler);
  clients.push(client);
  return client;
}

async function failure(promise: Promise<unknown>): Promise<PlexusError> {
  try {
    await promise;
  } catch (err) {
    expect(PlexusError.is(err)).toBe(true);
    return err as PlexusError;
  }
  throw new Error('expected a rejection');
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as PlexusError).code;
  }
  return undefined;
}

describe('write coalescing', () => {
  it('turns 1000 writes of one turn into one socket write, intact and in order', async () => {
    const transport = new TcpTransport({ flushFrames: Infinity });
    const serverSide = new RecordingHandler();
    const server = await listen(transport, serverSide);
    const client = connect(transport, new RecordingHandler(), { port: server.port });
    await client.connect();
    await serverSide.until(() => serverSide.opened.length === 1, 'the connection');
    const frames = Array.from({ length: 1000 }, (_, i) => {
      const f = patternBytes(100 + (i % 100), i + 1);
      f.writeUInt32BE(i, 0);
      return f;
    });
    const spy = jest.spyOn(net.Socket.prototype, 'write');
    try {
      for (const f of frames) client.write(f);
      expect(spy).not.toHaveBeenCalled();
      await new Promise((resolve) => setImmediate(resolve));
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    const expected = Buffer.concat(frames);
    const channel = serverSide.opened[0];
    await serverSide.until(() => serverSide.receivedBytes(channel) >= expected.length, 'all frames');
    expect(serverSide.received(channel).equals(expected)).toBe(true);
  });

  it('writes a long burst in slices of flushFrames so the peer can start early', async () => {
    const transport = new TcpTransport({ flushFrames: 16 });
    const serverSide = new RecordingHandler();
    const server = await listen(transport, serverSide);
    const client = connect(transport, new RecordingHandler(), { port: server.port });
    await client.connect();
    await serverSide.until(() => serverSide.opened.length === 1, 'the connection');
    const frames = Array.from({ length: 100 }, (_, i) => patternBytes(64, i + 1));
    const spy = jest.spyOn(net.Socket.prototype, 'write');
    try {
      for (const f of frames) client.write(f);
      // 6 slices of 16 went out at once; the last 4 frames wait for the end of the turn.
      expect(spy).toHaveBeenCalledTimes(6);
      await new Promise((resolve) => setImmediate(resolve));
      expect(spy).toHaveBeenCalledTimes(7);
    } finally {
      spy.mockRestore();
    }
    const expected = Buffer.concat(frames);
    const channel = serverSide.opened[0];
    await serverSide.until(() => serverSide.receivedBytes(channel) >= expected.length, 'all frames');
    expect(serverSide.received(channel).equals(expected)).toBe(true);
  });

  it('flushes writes made in promise continuations of the same turn together', async () => {
    const transport = new TcpTransport({ flushFrames: Infinity });
    const serverSide = new RecordingHandler();
    const server = await listen(transport, serverSide);
    const client = connect(transport, new RecordingHandler(), { port: server.port });
    await client.connect();
    const spy = jest.spyOn(net.Socket.prototype, 'write');
    try {
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          for (let depth = 0; depth < i % 5; depth++) await Promise.resolve();
          client.write(Buffer.from([i]));
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      // Writes at every await depth land in one flush (nextTick runs once the microtasks drained).
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    await serverSide.until(() => serverSide.opened.length === 1 && serverSide.receivedBytes(serverSide.opened[0]) === 50, 'the bytes');
  });
});

describe('staging buffer', () => {
  it('stages a quiet connection in 2 KiB, grows up to 16 KiB for a busy one, and gives the stage back once idle', async () => {
    // frameTimeout 100 ms: the watchdog ticks every 25 ms
    const transport = new TcpTransport({ frameTimeout: 100 });
    const serverSide = new RecordingHandler();
    const server = await listen(transport, serverSide);
    const client = connect(transport, new RecordingHandler(), { port: server.port });
    await client.connect();
    await serverSide.until(() => serverSide.opened.length === 1, 'the connection');
    const stage = () => (client as unknown as { stage: Buffer | undefined }).stage;
    const sent: Buffer[] = [];
    const slot = client.reserve(60);
    const first = patternBytes(60, 1);
    first.copy(slot.buffer, slot.offset);
    sent.push(first);
    expect(stage()?.length).toBe(2048);
    let largest = 0;
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 30; i++) {
        const frame = patternBytes(500, turn * 30 + i);
        client.write(frame);
        sent.push(frame);
        largest = Math.max(largest, stage()?.length ?? 0);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(largest).toBe(16 * 1024);
    const expected = Buffer.concat(sent);
    const channel = serverSide.opened[0];
    await serverSide.until(() => serverSide.receivedBytes(channel) >= expected.length, 'all frames');
    expect(serverSide.received(channel).equals(expected)).toBe(true);
    // Nothing written for a whole tick: the stage is given back, and the next one starts small.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(stage()).toBeUndefined();
    client.write(Buffer.from([1, 2, 3]));
    expect(stage()?.length).toBe(2048);
  });
});

describe('backpressure', () => {
  it('turns unwritable above the high-water mark, calls onDrain, and loses no byte', async () => {
    const transport = new TcpTransport({ writeHighWaterMark: 256 * 1024 });
    // A raw server that does not read until told to, so the socket buffer fills up.
    const accepted: net.Socket[] = [];
    const raw = net.createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
    await new Promise<void>((resolve) => raw.listen(0, LOCAL, resolve));
    servers.push({ close: () => new Promise((resolve) => raw.close(resolve)) });
    const clientSide = new RecordingHandler();
    const client = connect(transport, clientSide, { port: (raw.address() as net.AddressInfo).port });
    await client.connect();
    const piece = patternBytes(64 * 1024, 5);
    let sent = 0;
    let guard = 0;
    // Keep writing across turns until the unread socket pushes back.
    while (client.writable && guard++ < 2000) {
      client.write(piece);
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(client.writable).toBe(false);
    expect(client.write(piece)).toBe(false);
    sent++;
    expect(clientSide.drained).toHaveLength(0);
    while (accepted.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const peer = accepted[0];
    let received = 0;
    let mismatch = false;
    peer.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== piece[(received + i) % piece.length]) mismatch = true;
      }
      received += chunk.length;
    });
    peer.resume();
    await clientSide.until(() => clientSide.drained.length === 1, 'onDrain');
    expect(client.writable).toBe(true);
    while (received < sent * piece.length) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(received).toBe(sent * piece.length);
    expect(mismatch).toBe(false);
    peer.destroy();
  });
});

describe('reconnecting', () => {
  it('calls onClose then onOpen, and a connect() while backing off waits for the next attempt', async () => {
    const transport = new TcpTransport();
    const first = new RecordingHandler(true);
    const server = await listen(transport, first);
    const events: string[] = [];
    const clientSide = new RecordingHandler();
    const handler = {
      onOpen: (ch: Channel) => (events.push('open'), clientSide.onOpen(ch)),
      onData: (ch: Channel, chunk: Buffer) => clientSide.onData(ch, chunk),
      onClose: (ch: Channel, e?: Error) => (events.push('close'), clientSide.onClose(ch, e)),
    };
    const client = transport.connect({ host: LOCAL, port: server.port, heartbeat: 0, reconnect: { initialDelay: 20, maxDelay: 80 } }, handler);
    clients.push(client);
    await client.connect();
    const port = server.port;
    await server.close();
    await clientSide.until(() => clientSide.closed.length === 1, 'onClose');
    expect(codeOf(() => client.write(Buffer.from('x')))).toBe('PLEXUS_ERR_TCP_NOT_CONNECTED');
    expect(client.isOpen).toBe(false);
    // Waits across failed attempts is not promised: the next attempt may fail while the port is
    // still closed, so listen first and then ask.
    const again = new RecordingHandler(true);
    await listen(transport, again, { port });
    await clientSide.until(() => clientSide.opened.length === 2, 'onOpen after the restart');
    await client.connect();
    expect(events).toEqual(['open', 'close', 'open']);
    client.write(Buffer.from('back'));
    await clientSide.until(() => clientSide.receivedBytes(client) === 4, 'the echo');
    expect(clientSide.received(client).toString()).toBe('back');
  });

  it('rejects a pending connect() when destroyed', async () => {
    const transport = new TcpTransport();
    const server = await listen(transport, new RecordingHandler());
    const client = connect(transport, new RecordingHandler(), { port: server.port });
    const pending = client.connect();
    client.destroy();
    expect((await failure(pending)).code).toBe('PLEXUS_ERR_TCP_DESTROYED');
    expect((await failure(client.connect())).code).toBe('PLEXUS_ERR_TCP_DESTROYED');
  });
});

describe('connect timeout', () => {
  /**
   * A listener on another thread whose event loop is blocked: the kernel completes handshakes
   * into its accept queue (backlog 1 holds two) and then drops further SYNs, so a third connect
   * hangs until our timeout. Only 127.0.0.1 is touched.
   */
  async function stalledListener(): Promise<{ port: number; release: () => Promise<void> }> {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `const net = require('node:net');
       const { parentPort, workerData } = require('node:worker_threads');
       const server = net.createServer().listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
         parentPort.postMessage(server.address().port);
         setImmediate(() => { Atomics.wait(workerData, 0, 0); server.close(); process.exit(0); });
       });`,
      { eval: true, workerData: flag },
    );
    const port = await new Promise<number>((resolve) => worker.once('message', resolve));
    return {
      port,
      release: async () => {
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
        await new Promise((resolve) => worker.once('exit', resolve));
      },
    };
  }

  it('rejects with PLEXUS_ERR_TCP_CONNECT_TIMEOUT when the listener never completes the handshake', async () => {
    const stalled = await stalledListener();
    const fillers: net.Socket[] = [];
    try {
      // Fill the accept queue: stop once a filler itself stays unconnected.
      for (let i = 0; i < 8; i++) {
        const s = net.connect(stalled.port, LOCAL);
        s.on('error', () => {});
        fillers.push(s);
        const connected = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), 300);
          s.once('connect', () => (clearTimeout(t), resolve(true)));
        });
        if (!connected) break;
      }
      const client = connect(new TcpTransport(), new RecordingHandler(), { port: stalled.port, connectTimeout: 150 });
      const error = await failure(client.connect());
      expect(error.code).toBe('PLEXUS_ERR_TCP_CONNECT_TIMEOUT');
      expect(error.message).toContain('150 ms');
      expect(client.isOpen).toBe(false);
    } finally {
      for (const s of fillers) s.destroy();
      await stalled.release();
    }
  });

  it('classifies a refused connection', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, LOCAL, resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const error = await failure(connect(new TcpTransport(), new RecordingHandler(), { port }).connect());
    expect(error.code).toBe('PLEXUS_ERR_TCP_CONNECT_REFUSED');
    expect(error.hint).toBeTruthy();
  });
});

describe('heartbeat', () => {
  it('calls onIdle for idle periods and closes after heartbeatMisses', async () => {
    const transport = new TcpTransport();
    const idle: number[] = [];
    const serverSide = new RecordingHandler();
    const handler = Object.assign(serverSide, { onIdle: (_ch: Channel, missed: number) => idle.push(missed) });
    const server = await listen(transport, handler, { heartbeat: 100, heartbeatMisses: 3 });
    const clientSide = new RecordingHandler();
    const client = connect(transport, clientSide, { port: server.port });
    await client.connect();
    await serverSide.until(() => serverSide.closed.length === 1, 'the heartbeat close');
    expect(idle).toEqual([1, 2]);
    expect((serverSide.closed[0].error as PlexusError).code).toBe('PLEXUS_ERR_TCP_HEARTBEAT_TIMEOUT');
    await clientSide.until(() => clientSide.closed.length === 1, 'the client to see the close');
  });

  it('keeps a channel whose onIdle heartbeats are answered', async () => {
    const transport = new TcpTransport();
    const server = await listen(transport, new RecordingHandler(true));
    const idle: number[] = [];
    const clientSide = new RecordingHandler();
    const handler = Object.assign(clientSide, {
      onIdle: (ch: Channel, missed: number) => {
        idle.push(missed);
        ch.write(Buffer.from([0])); // the protocol's heartbeat; the echo counts as a read
      },
    });
    const client = connect(transport, handler, { port: server.port, heartbeat: 100, heartbeatMisses: 3 });
    await client.connect();
    // Five idle periods outlive three misses only if each answered heartbeat reset the count.
    await clientSide.until(() => idle.length >= 5, 'five idle periods');
    expect(Math.max(...idle)).toBeLessThan(3);
    expect(client.isOpen).toBe(true);
    expect(clientSide.closed).toHaveLength(0);
  });
});

describe('TLS', () => {
  const serverTls = { key: fixture('server-key.pem'), cert: fixture('server-cert.pem'), ca: fixture('ca-cert.pem') };

  it('echoes over TLS with PEM given as text and Buffers', async () => {
    const transport = new TcpTransport();
    const server = await listen(transport, new RecordingHandler(true), {
      tls: { key: readFileSync(fixture('server-key.pem'), 'utf8'), cert: readFileSync(fixture('server-cert.pem')) },
    });
    const clientSide = new RecordingHandler();
    const client = connect(transport, clientSide, { port: server.port, tls: { ca: readFileSync(fixture('ca-cert.pem')) } });
    await client.connect();
    client.write(Buffer.from('secret'));
    await clientSide.until(() => clientSide.receivedBytes(client) === 6, 'the echo');
    expect(clientSide.received(client).toString()).toBe('secret');
  });

  it('refuses a server the client does not trust', async () => {
    const transport = new TcpTransport();
    const server = await listen(transport, new RecordingHandler(), { tls: serverTls });
    const client = connect(transport, new RecordingHandler(), { port: server.port, tls: { ca: fixture('rogue-cert.pem') } });
    const error = await failure(client.connect());
    expect(error.code).toBe('PLEXUS_ERR_TCP_CONNECT_FAILED');
  });

  it.each([
    ['no certificate', { ca: fixture('ca-cert.pem') }],
    ['a certificate from another CA', { ca: fixture('ca-cert.pem'), key: fixture('rogue-key.pem'), cert: fixture('rogue-cert.pem') }],
  ])('mutual TLS refuses a client with %s', async (_what, clientTls) => {
    const transport = new TcpTransport();
    const serverSide = new RecordingHandler();
    const server = await listen(transport, serverSide, { tls: { ...serverTls, requestCert: true } });
    const clientSide = new RecordingHandler();
    const client = connect(transport, clientSide, { port: server.port, tls: clientTls });
    // TLS 1.3 finishes the client's side of the handshake before the server checks the client's
    // certificate, so the refusal shows either as a rejected connect or as an immediate close
    // (with the server's alert as the error, or none when the server just hangs up).
    const refused = await client.connect().then(
      () => false,
      (e: unknown) => PlexusError.is(e),
    );
    if (!refused) await clientSide.until(() => clientSide.closed.length === 1, 'the refusal');
    expect(client.isOpen).toBe(false);
    expect(serverSide.opened).toHaveLength(0);
    expect([...server.channels()]).toHaveLength(0);
  });

  it('mutual TLS accepts a client with a certificate from the CA', async () => {
    const transport = new TcpTransport();
    const serverSide = new RecordingHandler(true);
    const server = await listen(transport, serverSide, { tls: { ...serverTls, requestCert: true } });
    const clientSide = new RecordingHandler();
    const client = connect(transport, clientSide, {
      port: server.port,
      tls: { ca: fixture('ca-cert.pem'), key: fixture('client-key.pem'), cert: fixture('client-cert.pem') },
    });
    await client.connect();
    client.write(Buffer.from('mutual'));
    await clientSide.until(() => clientSide.receivedBytes(client) === 6, 'the echo');
    expect(serverSide.opened).toHaveLength(1);
  });

  it('throws PLEXUS_ERR_TCP_TLS_CONFIG for a missing file', () => {
    expect(codeOf(() => new TcpTransport().connect({ host: LOCAL, port: 1, tls: { ca: '/nonexistent/ca.pem' } }, new RecordingHandler()))).toBe(
      'PLEXUS_ERR_TCP_TLS_CONFIG',
    );
  });
});

describe('Unix sockets', () => {
  const dir = socketDir();
  afterAll(() => dir.cleanup());

  it('echoes over a socket path and reports the path as both addresses', async () => {
    const transport = new TcpTransport();
    const path = dir.path('echo');
    const serverSide = new RecordingHandler(true);
    const server = await transport.listen({ path, heartbeat: 0 }, serverSide);
    servers.push(server);
    expect(server.address).toBe(path);
    const clientSide = new RecordingHandler();
    const client = connect(transport, clientSide, { path });
    await client.connect();
    client.write(Buffer.from('over a pipe'));
    await clientSide.until(() => clientSide.receivedBytes(client) === 11, 'the echo');
    expect(clientSide.received(client).toString()).toBe('over a pipe');
    expect(client.remoteAddress).toBe(path);
    expect(serverSide.opened[0].localAddress).toBe(path);
  });

  it('rejects a missing socket path as refused', async () => {
    const error = await failure(connect(new TcpTransport(), new RecordingHandler(), { path: dir.path('missing') }).connect());
    expect(error.code).toBe('PLEXUS_ERR_TCP_CONNECT_REFUSED');
  });
});

describe('errors and options', () => {
  it('rejects a port in use with PLEXUS_ERR_TCP_LISTEN', async () => {
    const transport = new TcpTransport();
    const server = await listen(transport, new RecordingHandler());
    const error = await failure(transport.listen({ host: LOCAL, port: server.port }, new RecordingHandler()));
    expect(error.code).toBe('PLEXUS_ERR_TCP_LISTEN');
    expect(error.message).toContain('EADDRINUSE');
  });

  it('rejects impossible options with PLEXUS_ERR_TCP_BAD_OPTIONS', async () => {
    const transport = new TcpTransport();
    expect(codeOf(() => transport.connect({ host: LOCAL, port: 0 }, new RecordingHandler()))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect(codeOf(() => transport.connect({ host: LOCAL, port: 80, connectTimeout: -1 }, new RecordingHandler()))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect(codeOf(() => transport.connect({ host: LOCAL, port: 80, heartbeatMisses: 0 }, new RecordingHandler()))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect((await failure(transport.listen({ host: LOCAL, port: 70000 }, new RecordingHandler()))).code).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect(codeOf(() => new TcpTransport({ writeHighWaterMark: 0 }))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect(codeOf(() => new TcpTransport({ writeHighWaterMark: 1024, writeMaxQueue: 1500 }))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect(codeOf(() => new TcpTransport({ frameTimeout: -1 }))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect(codeOf(() => new TcpTransport({ maxConnections: 1.5 }))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect(codeOf(() => new TcpTransport({ maxConnectionsPerRemote: -1 }))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
    expect(codeOf(() => transport.connect({ host: LOCAL, port: 80, writeStallTimeout: -5 }, new RecordingHandler()))).toBe('PLEXUS_ERR_TCP_BAD_OPTIONS');
  });

  it('closes the channel, not the process, when the handler throws on data', async () => {
    const transport = new TcpTransport();
    const serverSide = new RecordingHandler();
    const throwing = Object.assign(serverSide, {
      onData: () => {
        throw new Error('protocol bug');
      },
    });
    const server = await listen(transport, throwing);
    const clientSide = new RecordingHandler();
    const client = connect(transport, clientSide, { port: server.port });
    await client.connect();
    client.write(Buffer.from('boom'));
    await serverSide.until(() => serverSide.closed.length === 1, 'the close');
    const error = serverSide.closed[0].error as PlexusError;
    expect(error.code).toBe('PLEXUS_ERR_TCP_HANDLER');
    expect(error.message).toContain('protocol bug');
    await clientSide.until(() => clientSide.closed.length === 1, 'the client to see it');
  });

  it('passes socket errors to onClose with a code', async () => {
    const transport = new TcpTransport();
    // Resets once the client wrote: the connect has certainly completed by then.
    const raw = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((resolve) => raw.listen(0, LOCAL, resolve));
    servers.push({ close: () => new Promise((resolve) => raw.close(resolve)) });
    const clientSide = new RecordingHandler();
    const client = connect(transport, clientSide, { port: (raw.address() as net.AddressInfo).port });
    await client.connect();
    client.write(Buffer.from('hello?'));
    await clientSide.until(() => clientSide.closed.length === 1, 'the reset');
    const error = clientSide.closed[0].error as PlexusError;
    expect(error.code).toBe('PLEXUS_ERR_TCP_SOCKET');
    expect(error.message).toContain('ECONNRESET');
  });

  it('is declared as the transport extension "tcp"', () => {
    const [ext] = plugin.extensions;
    expect(ext).toMatchObject({ point: 'transport', name: 'tcp' });
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const created = ext.create({
      options: { writeHighWaterMark: 1024 },
      logger,
      application: 'test',
      resolve: () => undefined as never,
      resolveById: () => undefined,
    });
    expect(created).toBeInstanceOf(TcpTransport);
  });
});

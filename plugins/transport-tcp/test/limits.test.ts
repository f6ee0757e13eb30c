import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ReadProgress, type Channel, type ChannelHandler, type ClientChannel, type Logger, type TransportServer } from '@plexus/kernel/spi';
import { RecordingHandler, patternBytes } from '@plexus/kernel/testing';
import { TcpTransport, type TcpTransportOptions } from '../src/tcp-transport';
import { ThrottledLog } from '../src/throttled-log';
import { fixture } from './helpers';

/*
 * The limits that keep a hostile or broken peer from costing this process without bound: write
 * backpressure (pause, overflow, stall), the frame deadline, the TLS handshake timeout and the
 * connection caps. Every wait is bounded; only 127.0.0.x is touched.
 */

const LOCAL = '127.0.0.1';
const MiB = 1024 * 1024;

let servers: TransportServer[] = [];
let clients: ClientChannel[] = [];
let sockets: net.Socket[] = [];
afterEach(async () => {
  const [ss, cs, ks] = [servers, clients, sockets];
  servers = [];
  clients = [];
  sockets = [];
  for (const s of ks) s.destroy();
  for (const c of cs) c.destroy();
  await Promise.all(ss.map((s) => s.close()));
});

/** A plain server that accepts and never reads (pauseOnConnect); close() destroys what it accepted. */
async function deafServer(onSocket: (s: net.Socket) => void = () => {}): Promise<number> {
  const accepted: net.Socket[] = [];
  const raw = net.createServer({ pauseOnConnect: true }, (s) => {
    accepted.push(s);
    onSocket(s);
  });
  await new Promise<void>((resolve) => raw.listen(0, LOCAL, resolve));
  servers.push({
    address: '',
    port: 0,
    channels: () => [],
    close: () => {
      for (const s of accepted) s.destroy();
      return new Promise((resolve) => raw.close(() => resolve()));
    },
  });
  return (raw.address() as net.AddressInfo).port;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 10 ms; fails the test after `limit` ms. */
async function until(condition: () => boolean, what: string, limit = 10_000): Promise<void> {
  const end = Date.now() + limit;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(10);
  }
}

interface Warned {
  message: string;
  fields?: Record<string, unknown>;
}

function recordingLogger(): Logger & { warned: Warned[] } {
  const warned: Warned[] = [];
  return { warned, debug() {}, info() {}, error() {}, warn: (message, fields) => warned.push({ message, fields }) };
}

async function serve(options: TcpTransportOptions, handler: ChannelHandler, extra: object = {}): Promise<TransportServer> {
  const server = await new TcpTransport(options).listen({ host: LOCAL, port: 0, heartbeat: 0, ...extra }, handler);
  servers.push(server);
  return server;
}

/** A raw client socket from `localAddress`; resolves once connected. */
function rawClient(port: number, localAddress = LOCAL): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: LOCAL, localAddress });
    sockets.push(s);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const closed = (s: net.Socket): Promise<void> => (s.destroyed ? Promise.resolve() : new Promise((resolve) => s.once('close', () => resolve())));

function codeOf(error: Error | undefined): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

describe('write backpressure on server channels', () => {
  it('stops reading a peer that does not read its answers, and resumes once it does', async () => {
    const serverSide = new RecordingHandler(true); // echoes every chunk
    const server = await serve({ writeHighWaterMark: 256 * 1024, writeMaxQueue: 0, writeStallTimeout: 0 }, serverSide);
    const peer = await rawClient(server.port);
    peer.pause(); // reads nothing: the echoes pile up on the server
    const total = 48 * MiB;
    const piece = patternBytes(MiB, 9);
    for (let i = 0; i < total / MiB; i++) peer.write(piece);
    await serverSide.until(() => serverSide.opened.length === 1, 'the connection');
    const channel = serverSide.opened[0];
    await until(() => !channel.writable, 'the server channel to back up');
    // Reading stopped: nothing more arrives although the peer still has most of its bytes to send.
    const received = serverSide.receivedBytes(channel);
    await sleep(300);
    expect(serverSide.receivedBytes(channel)).toBe(received);
    expect(received).toBeLessThan(total / 2);
    expect(peer.writableLength).toBeGreaterThan(0);
    // The peer reads again: the server drains, resumes, and every byte makes the round trip.
    let echoed = 0;
    peer.on('data', (d: Buffer) => (echoed += d.length));
    peer.resume();
    await until(() => echoed === total, 'every echoed byte', 20_000);
    expect(serverSide.receivedBytes(channel)).toBe(total);
    expect(serverSide.closed).toHaveLength(0);
  }, 30_000);

  it('closes a peer whose unread answers pass writeMaxQueue, with PLEXUS_ERR_TCP_WRITE_OVERFLOW, logged', async () => {
    const logger = recordingLogger();
    const answer = Buffer.alloc(MiB, 1);
    // Every request byte asks for 8 MiB of answers: the amplification a compressed echo gives.
    const handler: ChannelHandler & { closes: Array<Error | undefined> } = {
      closes: [],
      onData(channel) {
        for (let i = 0; i < 8 && channel.isOpen; i++) channel.write(answer);
      },
      onClose(_channel, error) {
        handler.closes.push(error);
      },
    };
    const server = await serve({ writeHighWaterMark: 256 * 1024, writeMaxQueue: 4 * MiB, writeStallTimeout: 0, logger }, handler);
    const peer = await rawClient(server.port);
    peer.pause();
    const ended = closed(peer);
    for (let i = 0; i < 40 && handler.closes.length === 0; i++) {
      peer.write(Buffer.from([i]));
      await sleep(25);
    }
    await until(() => handler.closes.length === 1, 'the overflow close');
    expect(codeOf(handler.closes[0])).toBe('PLEXUS_ERR_TCP_WRITE_OVERFLOW');
    await ended;
    expect(logger.warned.map((w) => w.fields?.code)).toContain('PLEXUS_ERR_TCP_WRITE_OVERFLOW');
  }, 20_000);

  it('closes a peer that takes nothing for writeStallTimeout, with PLEXUS_ERR_TCP_WRITE_STALLED', async () => {
    const chunk = Buffer.alloc(MiB, 2);
    const handler: ChannelHandler & { closes: Array<Error | undefined>; at: number } = {
      closes: [],
      at: 0,
      onData(channel) {
        // More than loopback's kernel buffers hold, so the rest waits in user space.
        for (let i = 0; i < 48 && channel.isOpen; i++) channel.write(chunk);
        handler.at = Date.now();
      },
      onClose(_channel, error) {
        handler.closes.push(error);
      },
    };
    const server = await serve({ writeHighWaterMark: 256 * 1024, writeMaxQueue: 0, writeStallTimeout: 400 }, handler);
    const peer = await rawClient(server.port);
    peer.pause();
    peer.write(Buffer.from('go'));
    await until(() => handler.closes.length === 1, 'the stall close');
    const after = Date.now() - handler.at;
    expect(codeOf(handler.closes[0])).toBe('PLEXUS_ERR_TCP_WRITE_STALLED');
    expect(after).toBeGreaterThanOrEqual(400);
    expect(after).toBeLessThan(3000);
  }, 20_000);
});

describe('write backpressure on client channels', () => {
  it('keeps reading, and closes a channel to a provider that stopped reading after writeStallTimeout', async () => {
    // The client still reads what the provider sends while it is backed up.
    const port = await deafServer((s) => s.write('hello'));
    const clientSide = new RecordingHandler();
    const transport = new TcpTransport({ writeHighWaterMark: 256 * 1024, writeMaxQueue: 0, writeStallTimeout: 400 });
    const client = transport.connect({ host: LOCAL, port, heartbeat: 0, reconnect: false }, clientSide);
    clients.push(client);
    await client.connect();
    const piece = Buffer.alloc(MiB, 3);
    for (let i = 0; i < 48; i++) client.write(piece);
    expect(client.writable).toBe(false);
    await clientSide.until(() => clientSide.receivedBytes(client) === 5, 'the provider greeting');
    await clientSide.until(() => clientSide.closed.length === 1, 'the stall close');
    expect(codeOf(clientSide.closed[0].error)).toBe('PLEXUS_ERR_TCP_WRITE_STALLED');
  }, 20_000);

  it('closes a client channel whose queue passes writeMaxQueue', async () => {
    const port = await deafServer();
    const clientSide = new RecordingHandler();
    const transport = new TcpTransport({ writeHighWaterMark: 256 * 1024, writeMaxQueue: 2 * MiB });
    const client = transport.connect({ host: LOCAL, port, heartbeat: 0, reconnect: false }, clientSide);
    clients.push(client);
    await client.connect();
    const piece = Buffer.alloc(MiB, 4);
    let writes = 0;
    for (; writes < 100 && client.isOpen; writes++) {
      client.write(piece);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(client.isOpen).toBe(false);
    expect(writes).toBeLessThan(100);
    await clientSide.until(() => clientSide.closed.length === 1, 'the overflow close');
    expect(codeOf(clientSide.closed[0].error)).toBe('PLEXUS_ERR_TCP_WRITE_OVERFLOW');
  }, 20_000);
});

/**
 * A line protocol that reports progress as the plexus decoder does: a chunk that leaves a line
 * unfinished is PARTIAL, one that finishes a line is COMPLETE.
 */
class LineHandler extends RecordingHandler {
  constructor(private readonly track = true) {
    super();
  }
  override onData(channel: Channel, chunk: Buffer): ReadProgress | void {
    super.onData(channel, chunk);
    if (!this.track) return;
    const completed = chunk.includes(0x0a);
    const open = chunk[chunk.length - 1] !== 0x0a;
    return (completed ? ReadProgress.COMPLETE : 0) | (open ? ReadProgress.PARTIAL : 0);
  }
}

describe('frame deadline and idle time', () => {
  it('closes a peer that dribbles one message past frameTimeout, with PLEXUS_ERR_TCP_FRAME_TIMEOUT', async () => {
    const serverSide = new LineHandler();
    const server = await serve({ frameTimeout: 400 }, serverSide);
    const peer = await rawClient(server.port);
    const started = Date.now();
    const dribble = setInterval(() => peer.writable && peer.write('x'), 50);
    try {
      await serverSide.until(() => serverSide.closed.length === 1, 'the frame deadline');
    } finally {
      clearInterval(dribble);
    }
    const after = Date.now() - started;
    expect(codeOf(serverSide.closed[0].error)).toBe('PLEXUS_ERR_TCP_FRAME_TIMEOUT');
    expect(after).toBeGreaterThanOrEqual(400);
    expect(after).toBeLessThan(2000);
  });

  it('keeps a peer whose messages each complete in time, however long it talks', async () => {
    const serverSide = new LineHandler();
    const server = await serve({ frameTimeout: 300 }, serverSide);
    const peer = await rawClient(server.port);
    // 1.2 s of messages, each taking ~150 ms to arrive in three pieces.
    for (let i = 0; i < 8; i++) {
      peer.write('ab');
      await sleep(50);
      peer.write('cd');
      await sleep(100);
      peer.write(`${i}\n`);
    }
    await sleep(100);
    expect(serverSide.closed).toHaveLength(0);
    expect(serverSide.received(serverSide.opened[0]).toString()).toContain('abcd7\n');
  });

  it('does not count dribbled bytes of an unfinished message as activity for the idle timeout', async () => {
    const tracked = new LineHandler(true);
    const untracked = new LineHandler(false);
    // frameTimeout off: only the heartbeat can end these connections.
    const a = await serve({ frameTimeout: 0 }, tracked, { heartbeat: 150, heartbeatMisses: 2 });
    const b = await serve({ frameTimeout: 0 }, untracked, { heartbeat: 150, heartbeatMisses: 2 });
    const pa = await rawClient(a.port);
    const pb = await rawClient(b.port);
    const dribble = setInterval(() => {
      if (pa.writable) pa.write('x');
      if (pb.writable) pb.write('x');
    }, 40);
    try {
      await tracked.until(() => tracked.closed.length === 1, 'the idle close of the dribbler');
      expect(codeOf(tracked.closed[0].error)).toBe('PLEXUS_ERR_TCP_HEARTBEAT_TIMEOUT');
      // A handler that reports no progress keeps today's rule: every byte is activity.
      expect(untracked.closed).toHaveLength(0);
    } finally {
      clearInterval(dribble);
    }
  });
});

describe('TLS handshake timeout', () => {
  const serverTls = { key: fixture('server-key.pem'), cert: fixture('server-cert.pem') };

  it('closes a connection that never starts its handshake, and logs it with a code', async () => {
    const logger = recordingLogger();
    const serverSide = new RecordingHandler();
    const server = await serve({ handshakeTimeout: 300, logger }, serverSide, { tls: serverTls });
    const started = Date.now();
    const silent = await rawClient(server.port);
    const dribbler = await rawClient(server.port);
    // A ClientHello that never ends, one byte at a time: Node's timer counts from the accept.
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    let i = 0;
    const drip = setInterval(() => i < hello.length && dribbler.writable && dribbler.write(hello.subarray(i, ++i)), 60);
    try {
      await Promise.all([closed(silent), closed(dribbler)]);
    } finally {
      clearInterval(drip);
    }
    const after = Date.now() - started;
    expect(after).toBeGreaterThanOrEqual(250);
    expect(after).toBeLessThan(2000);
    expect(serverSide.opened).toHaveLength(0);
    expect(logger.warned.map((w) => w.fields?.code)).toContain('PLEXUS_ERR_TCP_HANDSHAKE_TIMEOUT');
  });

  it('lets a real TLS client through', async () => {
    const serverSide = new RecordingHandler(true);
    const server = await serve({ handshakeTimeout: 300 }, serverSide, { tls: serverTls });
    const socket = tls.connect({ host: LOCAL, port: server.port, ca: [readFileSync(fixture('ca-cert.pem'))], servername: 'localhost' });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    await sleep(500); // past the handshake timeout: a finished handshake is not cut off
    socket.write('ping');
    const echo = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
    expect(echo).toBe('ping');
  });
});

describe('connection caps', () => {
  it('refuses a new connection over maxConnectionsPerRemote while other addresses still get in', async () => {
    const logger = recordingLogger();
    const serverSide = new RecordingHandler();
    const server = await serve({ maxConnectionsPerRemote: 3, maxConnections: 5, logger }, serverSide);
    const held = [await rawClient(server.port), await rawClient(server.port), await rawClient(server.port)];
    await serverSide.until(() => serverSide.opened.length === 3, 'three connections from 127.0.0.1');
    // The attacker's address is full: its next connections are closed at once.
    const refused = [await rawClient(server.port), await rawClient(server.port)];
    await Promise.all(refused.map(closed));
    // Another address is still served.
    const legit = await rawClient(server.port, '127.0.0.2');
    await serverSide.until(() => serverSide.opened.length === 4, 'the connection from 127.0.0.2');
    expect(serverSide.opened[3].remoteAddress).toMatch(/^127\.0\.0\.2:/);
    expect(held.every((s) => !s.destroyed) && !legit.destroyed).toBe(true);
    // Two refusals within the interval: one log line.
    const lines = logger.warned.filter((w) => w.fields?.code === 'PLEXUS_ERR_TCP_TOO_MANY_CONNECTIONS');
    expect(lines).toHaveLength(1);
    expect(lines[0].message).toContain('maxConnectionsPerRemote');
    // A connection that leaves frees its slot for the same address.
    held[0].destroy();
    await serverSide.until(() => serverSide.closed.length === 1, 'the server to see it leave');
    await rawClient(server.port);
    await serverSide.until(() => serverSide.opened.length === 5, 'a new connection from 127.0.0.1');
  });

  it('refuses connections over maxConnections in total', async () => {
    const serverSide = new RecordingHandler();
    const server = await serve({ maxConnectionsPerRemote: 0, maxConnections: 2 }, serverSide);
    await rawClient(server.port, '127.0.0.1');
    await rawClient(server.port, '127.0.0.2');
    await serverSide.until(() => serverSide.opened.length === 2, 'two connections');
    const third = await rawClient(server.port, '127.0.0.3');
    await closed(third);
    await sleep(50);
    expect(serverSide.opened).toHaveLength(2);
  });
});

describe('ThrottledLog', () => {
  it('logs a code once per interval and reports how many it left out', async () => {
    const logger = recordingLogger();
    const log = new ThrottledLog(logger, 200);
    const err = { code: 'PLEXUS_ERR_TCP_FRAME_TIMEOUT', message: 'slow' };
    for (let i = 0; i < 5; i++) log.warn(err);
    log.warn({ code: 'PLEXUS_ERR_TCP_WRITE_STALLED', message: 'stalled' });
    expect(logger.warned.map((w) => w.fields?.code)).toEqual(['PLEXUS_ERR_TCP_FRAME_TIMEOUT', 'PLEXUS_ERR_TCP_WRITE_STALLED']);
    await sleep(250);
    log.warn(err);
    expect(logger.warned).toHaveLength(3);
    expect(logger.warned[2].message).toContain('4 more');
  });
});

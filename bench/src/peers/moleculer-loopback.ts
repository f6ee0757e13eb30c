/**
 * Moleculer's TCP transporter pinned to loopback. Stock 0.14 listens on every interface and may
 * dial a peer by hostname or LAN address learned from gossip; the bench must only bind and talk
 * to 127.0.0.1, so this subclass binds its reader there and dials every node there.
 */
import net from 'node:net';
import path from 'node:path';
import { Transporters } from 'moleculer';

/** The loopback host every moleculer bench node binds and dials. */
export const LOOPBACK = '127.0.0.1';

/** Node id of the server broker; the client names it in its static `urls`. */
export const SERVER_NODE = 'bench-server';

/** The parts of the transporter internals this subclass touches (not in moleculer's typings). */
interface TcpInternals {
  opts: { port?: number | null };
  reader: ReaderInternals | null;
  writer: (NodeJS.EventEmitter & object) | null;
  nodes: { disconnected(nodeID: string, unexpected: boolean): void };
  logger: { debug(...args: unknown[]): void };
}

interface ReaderInternals {
  opts: { port?: number | null };
  server: net.Server | null;
  connected: boolean;
  onTcpClientConnected(socket: net.Socket): void;
  listen(): Promise<number>;
}

type Ctor<T> = new (...args: unknown[]) => T;

// moleculer's package "exports" hides its internals, so load the two helpers by file path.
const tcpDir = path.join(path.dirname(require.resolve('moleculer')), 'src', 'transporters', 'tcp');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const TcpReader = require(path.join(tcpDir, 'tcp-reader.js')) as Ctor<ReaderInternals>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const TcpWriter = require(path.join(tcpDir, 'tcp-writer.js')) as Ctor<NodeJS.EventEmitter>;

/** A TCP reader whose server listens on 127.0.0.1 only. */
class LoopbackTcpReader extends TcpReader {
  override listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.onTcpClientConnected(socket));
      server.once('error', reject);
      server.listen({ host: LOOPBACK, port: this.opts.port ?? 0, exclusive: true }, () => {
        this.opts.port = (server.address() as net.AddressInfo).port;
        this.connected = true;
        resolve(this.opts.port);
      });
      this.server = server;
    });
  }
}

/**
 * Moleculer TCP transporter that binds and dials 127.0.0.1 only. Use with `udpDiscovery: false`
 * and `urls` naming the server node, so discovery is static as well.
 */
export class LoopbackTcpTransporter extends Transporters.TCP {
  /** Same wiring as the stock transporter, with the loopback reader. */
  startTcpServer(): Promise<number> {
    const self = this as unknown as TcpInternals;
    const writer = new TcpWriter(this, self.opts);
    writer.on('error', (err: unknown, nodeID: string) => {
      self.logger.debug(`TCP client error on '${nodeID}'`, err);
      self.nodes.disconnected(nodeID, false);
    });
    writer.on('end', (nodeID: string) => self.nodes.disconnected(nodeID, false));
    self.writer = writer;
    const reader = new LoopbackTcpReader(this, self.opts);
    self.reader = reader;
    return reader.listen();
  }

  /** Every node of the bench lives on this machine's loopback. */
  getNodeAddress(): string {
    return LOOPBACK;
  }
}

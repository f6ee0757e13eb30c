import { MemoryTransport, transportContract } from '@plexus/kernel/testing';
import { TcpTransport } from '../src/tcp-transport';
import { fixture, socketDir } from './helpers';

transportContract('tcp', () => new TcpTransport());

transportContract('tcp over TLS (mutual)', () => new TcpTransport(), {
  listen: () => ({
    host: '127.0.0.1',
    port: 0,
    tls: { key: fixture('server-key.pem'), cert: fixture('server-cert.pem'), ca: fixture('ca-cert.pem'), requestCert: true },
  }),
  connect: (server) => ({
    host: '127.0.0.1',
    port: server.port,
    tls: { key: fixture('client-key.pem'), cert: fixture('client-cert.pem'), ca: fixture('ca-cert.pem') },
  }),
});

const sockets = socketDir();
afterAll(() => sockets.cleanup());
transportContract('tcp over a Unix socket', () => new TcpTransport(), {
  listen: () => ({ path: sockets.path('contract') }),
  connect: (server) => ({ path: server.address }),
});

// The in-memory transport lives in the kernel's testing module; it runs the same contract here,
// beside the transport it imitates.
transportContract('memory', () => new MemoryTransport());
transportContract('memory, re-cut at random', () => new MemoryTransport({ fragment: { seed: 42, maxChunk: 4096 } }));

/** `@plexus/transport-tcp` — TCP, TLS and Unix-socket transport. The plugin itself is `./tcp-transport`'s default export. */
export { TcpTransport, TCP_DEFAULTS, type TcpTransportOptions } from './tcp-transport';
export { TcpServer } from './tcp-server';
export { TcpChannel } from './tcp-channel';
export { TcpClientChannel } from './tcp-client-channel';
export * from './errors';

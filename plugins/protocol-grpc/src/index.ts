/**
 * `@plexus/protocol-grpc` — gRPC over HTTP/2, wire-compatible with grpc-js; also answers as `tri`
 * (Dubbo 3's Triple). The kernel loads `dist/grpc-protocol.js` through the package manifest; these
 * exports are for tests and tools.
 */
export { GrpcProtocol } from './grpc-protocol';
export { GrpcInvoker } from './grpc-invoker';
export { GrpcServer } from './grpc-server';
export { GrpcErrors } from './errors';
export { GrpcStatus, statusOfError, codeOfStatus } from './status';
export { MessageReader } from './message-reader';
export { parseTimeout, formatTimeout, encodeMessage, decodeMessage, H as GrpcHeaders } from './wire';
export { type GrpcProtocolOptions, optionsSchema, DEFAULT_PORT } from './options';

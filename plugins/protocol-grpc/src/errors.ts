import { defineError, RpcCode, RpcError } from '@plexus/kernel/spi';

/**
 * The grpc protocol's errors. Call failures are `RpcError`s whose `reason` is the catalogue code
 * (on the wire: `grpc-status` and `grpc-message`, plus `plexus-code`/`plexus-reason` for Plexus
 * peers); connection-level problems are logged with the code in the `code` field.
 */
export const GrpcErrors = {
  UNKNOWN_SERVICE: defineError(
    'PLEXUS_ERR_GRPC_UNKNOWN_SERVICE',
    (service: string, address: string, known: string) => `unknown service ${service} at ${address}; served: ${known}`,
    'the path is /<package.Service>/<Method> and the Plexus interface must be the full service name of the .proto (e.g. helloworld.Greeter); send tri-service-version / tri-service-group for a versioned service.',
  ),
  UNKNOWN_METHOD: defineError(
    'PLEXUS_ERR_GRPC_UNKNOWN_METHOD',
    (service: string, method: string, known: string) => `unknown method ${method} of service ${service}; callable: ${known}`,
    'call a method the .proto declares and the implementation has, spelt as in the .proto.',
  ),
  STREAMING: defineError(
    'PLEXUS_ERR_GRPC_STREAMING',
    (call: string, detail: string) => `${call} cannot be called this way: ${detail}`,
    'a .proto decides which side streams: return an AsyncIterable (an async * method) for `returns (stream ...)`, take one as the only argument for `(stream ...)`, and a single value otherwise; a call carries at most one stream argument, never one-way.',
  ),
  CONTENT_TYPE: defineError(
    'PLEXUS_ERR_GRPC_CONTENT_TYPE',
    (got: string) => `content-type "${got}" is not gRPC: application/grpc, application/grpc+proto or application/grpc+json`,
    'use a gRPC client; plain HTTP clients can call the http protocol instead.',
  ),
  NO_PROTO: defineError(
    'PLEXUS_ERR_GRPC_NO_PROTO',
    (service: string) => `service ${service} has no .proto, so it answers application/grpc+json only`,
    'add `proto: ./file.proto` to the service (and the reference) for protobuf bodies, or call with content-type application/grpc+json.',
  ),
  ENCODING: defineError(
    'PLEXUS_ERR_GRPC_ENCODING',
    (detail: string) => `message encoding refused: ${detail}`,
    'send uncompressed messages, or gzip with grpc-encoding: gzip; nothing else is negotiated.',
  ),
  BAD_MESSAGE: defineError(
    'PLEXUS_ERR_GRPC_BAD_MESSAGE',
    (call: string, detail: string) => `the request of ${call} is unusable: ${detail}`,
    'a unary call sends exactly one length-prefixed message and ends the stream; check the client and both .proto files.',
  ),
  BAD_HEADER: defineError(
    'PLEXUS_ERR_GRPC_BAD_HEADER',
    (header: string, detail: string) => `header ${header}: ${detail}`,
    'grpc-timeout is 1-8 digits and a unit (H M S m u n); metadata keys are lowercase and values printable ASCII (or base64 under a -bin key).',
  ),
  TOO_LARGE: defineError(
    'PLEXUS_ERR_GRPC_TOO_LARGE',
    (what: string, size: string, limit: number) => `${what} is ${size} bytes, over the limit of ${limit} bytes (maxMessageSize)`,
    'send less per call, or raise maxMessageSize of the grpc protocol entry on both sides (grpc-js: grpc.max_receive_message_length).',
  ),
  SHUTTING_DOWN: defineError(
    'PLEXUS_ERR_GRPC_SHUTTING_DOWN',
    (address: string) => `provider ${address} is shutting down and accepts no new calls`,
    'the call is retryable; failover sends it to another provider.',
  ),
  REQUEST_TIMEOUT: defineError(
    'PLEXUS_ERR_GRPC_REQUEST_TIMEOUT',
    (remote: string, ms: number) => `client ${remote} did not finish sending its request within ${ms} ms; the stream is reset`,
    'the client hung or sends too slowly; raise requestTimeout of the grpc protocol if it is merely slow.',
  ),
  WRITE_STALLED: defineError(
    'PLEXUS_ERR_GRPC_WRITE_STALLED',
    (remote: string, ms: number) => `client ${remote} read nothing of an answer for ${ms} ms; the stream is reset`,
    'the client hung or reads too slowly (HTTP/2 flow control held the answer); raise writeTimeout if it is merely slow.',
  ),
  KEEPALIVE: defineError(
    'PLEXUS_ERR_GRPC_KEEPALIVE',
    (remote: string, ms: number) => `peer ${remote} did not answer a keepalive PING within ${ms} ms; closing the connection`,
    'the peer or the network hung; raise keepaliveTimeout if the link is merely slow.',
  ),
  CONNECT: defineError(
    'PLEXUS_ERR_GRPC_CONNECT',
    (address: string, cause: string) => `cannot reach grpc provider ${address}: ${cause}`,
    'check that the provider is running and serves gRPC (h2c, no TLS) on that port; the call is retryable on another provider.',
  ),
  DISCONNECTED: defineError(
    'PLEXUS_ERR_GRPC_DISCONNECTED',
    (call: string, address: string, cause: string) => `connection to ${address} failed before ${call} was answered: ${cause}`,
    'the provider stopped or the network failed; failover retries on another provider when the method is idempotent.',
  ),
  BAD_RESPONSE: defineError(
    'PLEXUS_ERR_GRPC_BAD_RESPONSE',
    (call: string, address: string, detail: string) => `the answer of ${address} to ${call} is unusable: ${detail}`,
    'check that the url points at a gRPC server and both sides use the same .proto.',
  ),
  REMOTE: defineError(
    'PLEXUS_ERR_GRPC_REMOTE',
    (call: string, address: string, status: string, message: string) => `${call} at ${address} failed with gRPC status ${status}: ${message}`,
    'the server answered with this status; see the gRPC status table in docs/guide/grpc-interop.md for what each means here.',
  ),
  CANCELLED: defineError(
    'PLEXUS_ERR_GRPC_CANCELLED',
    (call: string, address: string) => `call ${call} to ${address} was cancelled: the protocol was destroyed`,
    'do not call through a reference after the application stopped.',
  ),
} as const;

/** An RpcError whose message and reason come from a catalogue entry. */
export function rpcError<A extends unknown[]>(def: { (...args: A): Error; code: string }, code: RpcCode, ...args: A): RpcError {
  return new RpcError(def(...args).message, code, { reason: def.code });
}

import { defineError, RpcCode, RpcError } from '@plexus/kernel/spi';

/**
 * The plexus protocol's errors. Failed calls carry the code in `RpcError.reason`; connection-level
 * problems are logged as warnings with the code in the `code` field. Listed in the README.
 */
export const ProtocolErrors = {
  TIMEOUT: defineError(
    'PLEXUS_ERR_PROTOCOL_TIMEOUT',
    (call: string, address: string, ms: number) => `call ${call} to ${address} timed out after ${ms} ms`,
    'raise `timeout` for this method or reference, or find out why the provider is slow (load, executor size, downstream calls).',
  ),
  CONNECT: defineError(
    'PLEXUS_ERR_PROTOCOL_CONNECT',
    (address: string, cause: string) => `cannot connect to provider ${address}: ${cause}`,
    'check that the provider is running and listening on that address, and that no firewall is in the way.',
  ),
  DISCONNECTED: defineError(
    'PLEXUS_ERR_PROTOCOL_DISCONNECTED',
    (call: string, address: string, cause: string) => `connection to ${address} closed before ${call} was answered: ${cause}`,
    'the provider stopped or the network failed; the call is retryable and failover tries another provider.',
  ),
  NOT_CONNECTED: defineError(
    'PLEXUS_ERR_PROTOCOL_NOT_CONNECTED',
    (address: string, cause: string) => `not connected to provider ${address} (reconnecting; last failure: ${cause})`,
    'the provider is down or unreachable; the call is retryable and failover tries another provider.',
  ),
  CANCELLED: defineError(
    'PLEXUS_ERR_PROTOCOL_CANCELLED',
    (call: string, address: string) => `call ${call} to ${address} was cancelled: the protocol was destroyed`,
    'do not call through a reference after the application stopped.',
  ),
  RELEASED: defineError(
    'PLEXUS_ERR_PROTOCOL_RELEASED',
    (call: string, address: string) => `call ${call} was not sent to ${address}: that provider left the list (its invoker was released)`,
    'nothing to fix: the call is retryable and failover sends it to a provider still listed.',
  ),
  PAYLOAD_TOO_LARGE: defineError(
    'PLEXUS_ERR_PROTOCOL_PAYLOAD_TOO_LARGE',
    (what: string, size: number, limit: number) => `${what} is ${size} bytes, over the payload limit of ${limit} bytes`,
    'raise `protocol.payload` on both sides, or send less (page the data, or stream it another way).',
  ),
  BAD_MAGIC: defineError(
    'PLEXUS_ERR_PROTOCOL_BAD_MAGIC',
    (remote: string, sample: string) => `connection ${remote} sent bytes that are not the plexus protocol (${sample}); closing it`,
    'only plexus clients may use this port; HTTP clients need the `http` protocol on a port of its own.',
  ),
  BAD_VERSION: defineError(
    'PLEXUS_ERR_PROTOCOL_BAD_VERSION',
    (remote: string, version: number) => `connection ${remote} speaks plexus protocol version ${version}, this peer speaks 1; closing it`,
    'upgrade the older side: both peers need a @plexus/protocol-plexus that knows this version.',
  ),
  BAD_HEADER: defineError(
    'PLEXUS_ERR_PROTOCOL_BAD_HEADER',
    (what: string) => `malformed ${what} header: an entry runs past the header's end`,
    'the peer sent a corrupt frame; check that both sides run a released @plexus/protocol-plexus.',
  ),
  UNKNOWN_SERIALIZER: defineError(
    'PLEXUS_ERR_PROTOCOL_UNKNOWN_SERIALIZER',
    (id: number, side: string) => `the ${side} has no serializer with id ${id}`,
    'install and load the same serializer plugin on both sides (e.g. @plexus/serializer-msgpack is id 2, json is id 1).',
  ),
  UNKNOWN_COMPRESSOR: defineError(
    'PLEXUS_ERR_PROTOCOL_UNKNOWN_COMPRESSOR',
    (id: number, side: string) => `the ${side} has no compressor with id ${id}`,
    'install and load the same compressor plugin on both sides (gzip is id 1, lz4 id 2, snappy id 3).',
  ),
  SERIALIZE: defineError(
    'PLEXUS_ERR_PROTOCOL_SERIALIZE',
    (what: string, codec: string, cause: string) => `cannot encode ${what} with ${codec}: ${cause}`,
    'send only values the serializer supports (json: plain data; msgpack: plain data, Dates, binary).',
  ),
  DESERIALIZE: defineError(
    'PLEXUS_ERR_PROTOCOL_DESERIALIZE',
    (what: string, codec: string, cause: string) => `cannot decode ${what} with ${codec}: ${cause}`,
    'both sides must use compatible versions of the serializer and compressor plugins.',
  ),
  SERVICE_NOT_FOUND: defineError(
    'PLEXUS_ERR_PROTOCOL_SERVICE_NOT_FOUND',
    (key: string, address: string) => `no service ${key} is exported at ${address}`,
    'check the interface, version and group of the reference against what the provider exports.',
  ),
  BAD_REQUEST: defineError(
    'PLEXUS_ERR_PROTOCOL_BAD_REQUEST',
    (detail: string) => `bad request: ${detail}`,
    'the consumer sent a frame this provider cannot use; check both sides run a released @plexus/protocol-plexus.',
  ),
  SHUTTING_DOWN: defineError(
    'PLEXUS_ERR_PROTOCOL_SHUTTING_DOWN',
    (address: string) => `provider ${address} is shutting down and accepts no new calls`,
    'the call is retryable; failover sends it to another provider.',
  ),
  IDLE: defineError(
    'PLEXUS_ERR_PROTOCOL_IDLE',
    (remote: string, ms: number) => `connection ${remote} sent nothing for ${ms} ms (heartbeats missed); closing it`,
    'the peer hung or the network dropped; it reconnects by itself. Tune `protocol.heartbeat` if this happens on a healthy network.',
  ),
  UNASKED_COMPRESSOR: defineError(
    'PLEXUS_ERR_PROTOCOL_UNASKED_COMPRESSOR',
    (what: string, id: number) => `${what} arrived compressed with compressor id ${id}, which this call did not offer; refused without inflating`,
    'the provider answered with a compressor the consumer did not ask for: run released versions of @plexus/protocol-plexus on both sides.',
  ),
  CANCELLED_BY_CONSUMER: defineError(
    'PLEXUS_ERR_PROTOCOL_CANCELLED_BY_CONSUMER',
    (remote: string) => `the consumer ${remote} cancelled the call (its deadline passed or its caller aborted)`,
    'nothing to fix on the provider; an implementation can stop early by watching Plexus.context().signal.',
  ),
  CONNECTION_LOST: defineError(
    'PLEXUS_ERR_PROTOCOL_CONNECTION_LOST',
    (remote: string, cause: string) => `the connection from consumer ${remote} closed while the call ran: ${cause}`,
    'nothing to fix on the provider; an implementation can stop early by watching Plexus.context().signal.',
  ),
  STREAM_OVERFLOW: defineError(
    'PLEXUS_ERR_PROTOCOL_STREAM_OVERFLOW',
    (what: string, remote: string, buffered: number, window: number) =>
      `${what} from ${remote} ignored flow control: ${buffered} bytes of items unread, the window is ${window}; the stream was failed and the call cancelled`,
    'the peer sends stream items without waiting for credit: run a released @plexus/protocol-plexus on both sides (or raise `protocol.streamWindow` on the reading side).',
  ),
  TOO_MANY_STREAMS: defineError(
    'PLEXUS_ERR_PROTOCOL_TOO_MANY_STREAMS',
    (call: string, remote: string, limit: number) => `${call} was refused: the connection from ${remote} already has ${limit} open streams`,
    'close streams you no longer read (break out of the loop), or raise `protocol.maxStreams` on the provider.',
  ),
  STREAM_ONE_WAY: defineError(
    'PLEXUS_ERR_PROTOCOL_STREAM_ONE_WAY',
    (call: string) => `${call} is one-way but was given a stream argument; a client stream needs a two-way call`,
    'drop `oneWay` for this method, or pass the items as an array.',
  ),
} as const;

/** An RpcError whose message and reason come from a catalogue entry. */
export function rpcError<A extends unknown[]>(
  def: { (...args: A): Error; code: string },
  code: RpcCode,
  ...args: A
): RpcError {
  return new RpcError(def(...args).message, code, { reason: def.code });
}

/** The reason a provider call is cancelled with when its consumer sends a cancel frame. */
export function cancelledByConsumer(remote: string): RpcError {
  return rpcError(ProtocolErrors.CANCELLED_BY_CONSUMER, RpcCode.CANCELLED, remote);
}

/** The reason provider calls are cancelled with when their connection drops. */
export function connectionLost(remote: string, cause: string): RpcError {
  return rpcError(ProtocolErrors.CONNECTION_LOST, RpcCode.NETWORK, remote, cause);
}

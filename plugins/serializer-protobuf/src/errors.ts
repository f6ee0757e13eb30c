import { defineError, RpcCode, RpcError } from '@plexus/kernel/spi';

/**
 * The errors of `@plexus/serializer-protobuf`. Loading a `.proto` fails with a plain coded error
 * (a config error, at start); encoding and decoding fail with an `RpcError` of code
 * `SERIALIZATION` whose `reason` is the catalogue code.
 */
export const ProtobufErrors = {
  PARSE: defineError(
    'PLEXUS_ERR_PROTOBUF_PARSE',
    (file: string, detail: string) => `cannot load the proto file ${file}: ${detail}`,
    'fix the .proto at the line named (protoc --proto_path=<dir> <file> gives the same verdict), or correct the `proto:` path; it is relative to the config file.',
  ),
  SERVICE_NOT_FOUND: defineError(
    'PLEXUS_ERR_PROTOBUF_SERVICE_NOT_FOUND',
    (service: string, file: string, known: string) => `the proto file ${file} declares no service ${service}; it declares: ${known}`,
    'the interface must be the full service name, package included (e.g. helloworld.Greeter), as in the .proto.',
  ),
  METHOD_NOT_FOUND: defineError(
    'PLEXUS_ERR_PROTOBUF_METHOD_NOT_FOUND',
    (service: string, method: string, known: string) => `service ${service} declares no method ${method} in its .proto; it declares: ${known}`,
    'call one of the methods of the .proto service, spelt as there (e.g. SayHello).',
  ),
  ENCODE: defineError(
    'PLEXUS_ERR_PROTOBUF_ENCODE',
    (type: string, detail: string) => `the value does not match message ${type}: ${detail}`,
    'send a plain object with the field names of the .proto (keepCase); 64-bit integers as numbers or decimal strings, enums as names or numbers, bytes as Buffer/Uint8Array or base64.',
  ),
  DECODE: defineError(
    'PLEXUS_ERR_PROTOBUF_DECODE',
    (type: string, bytes: number, detail: string) => `a ${bytes}-byte body is not a valid ${type} message: ${detail}`,
    'both sides must use the same .proto; check that the peer sends this message type for this method.',
  ),
  TOO_LARGE: defineError(
    'PLEXUS_ERR_PROTOBUF_TOO_LARGE',
    (type: string, bytes: number, limit: number) => `a ${type} message of ${bytes} bytes is over the limit of ${limit} bytes (maxMessageSize)`,
    'send less per call, or raise maxMessageSize on both sides.',
  ),
} as const;

/** A `SERIALIZATION` RpcError from a catalogue entry. */
export function serializationError<A extends unknown[]>(def: { (...args: A): Error; code: string }, ...args: A): RpcError {
  return new RpcError(def(...args).message, RpcCode.SERIALIZATION, { reason: def.code, retryable: false });
}

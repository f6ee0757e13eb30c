/**
 * `@plexus/serializer-protobuf` — Protocol Buffers messages from `.proto` files (protobufjs):
 * a service's methods with codecs for their request and response types, plain objects in and out.
 * The grpc protocol (`@plexus/protocol-grpc`) loads the `proto:` file of a service or reference
 * through {@link loadProto}.
 */
export { loadProto, ProtoFile, ProtoService, type ProtoMethod, type ProtoOptions } from './proto-file';
export { MessageCodec, DEFAULT_MAX_MESSAGE_SIZE } from './message-codec';
export { ProtobufErrors, serializationError } from './errors';
export { ProtobufSerializer, PROTOBUF_OPTIONS_SCHEMA, type ProtobufSerializerOptions } from './protobuf-serializer';

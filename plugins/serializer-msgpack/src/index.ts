/** `@plexus/serializer-msgpack` — the MessagePack serializer (wire id 2). */
export { MsgpackSerializer, MSGPACK_OPTIONS_SCHEMA, type MsgpackSerializerOptions } from './msgpack-serializer';

/**
 * `@plexus/protocol-plexus` — the default binary wire protocol. The kernel loads
 * `dist/plexus-protocol.js` through the package manifest; these exports are for tests and tools.
 */
export { PlexusProtocol } from './plexus-protocol';
export { PlexusInvoker } from './plexus-invoker';
export { FrameDecoder, type FrameSink, type GarbageKind } from './frame-decoder';
export { HeaderReader, encodeRequest, encodeResponse, encodeErrorResponse, encodeEvent, encodeRoute, requestHeaderSize, responseHeaderSize } from './frame-codec';
export { MAGIC_0, MAGIC_1, VERSION, FIXED_LENGTH, Flag, EventKind, Tag, Status, codeOfStatus, statusOfCode } from './wire';
export { ProtocolErrors } from './errors';
export { type PlexusProtocolOptions, optionsSchema, DEFAULT_PAYLOAD, DEFAULT_PORT, DEFAULT_COMPRESS_THRESHOLD } from './options';

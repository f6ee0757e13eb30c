import { RpcCode, RpcError, type Compressor, type InboundStream, type Serializer } from '@plexus/kernel/spi';
import { ProtocolErrors, rpcError } from './errors';
import { encodeStreamData, encodeStreamError, encodeStreamErrorEntries } from './frame-codec';
import { FIXED_LENGTH, statusOfCode } from './wire';

/**
 * Encodes one stream item into a `STREAM_DATA` frame: serialized with the call's serializer,
 * compressed when a compressor is given and the item is at least `threshold` bytes. Throws a coded
 * error when the item cannot be encoded or its frame would exceed `payload` (the pump then fails
 * the stream with it, after the items already sent).
 */
export function encodeItem(
  id: number,
  response: boolean,
  item: unknown,
  serializer: Serializer,
  compressor: Compressor | undefined,
  threshold: number,
  payload: number,
  what: string,
): Buffer {
  let body: Uint8Array;
  try {
    body = serializer.serialize(item);
  } catch (err) {
    throw rpcError(ProtocolErrors.SERIALIZE, RpcCode.SERIALIZATION, `an item of ${what}`, serializer.name, (err as Error).message);
  }
  let compressorId = 0;
  if (compressor !== undefined && compressor.id !== 0 && body.length >= threshold && body.length > 0) {
    try {
      body = compressor.compress(body);
    } catch (err) {
      throw rpcError(ProtocolErrors.SERIALIZE, RpcCode.SERIALIZATION, `an item of ${what}`, compressor.name, (err as Error).message);
    }
    compressorId = compressor.id;
  }
  const size = (compressorId !== 0 ? 3 : 0) + body.length;
  if (size > payload) throw rpcError(ProtocolErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `an item of ${what}`, size, payload);
  return encodeStreamData(id, response, compressorId, body);
}

/**
 * A `STREAM_ERROR` frame for `err`: its wire form serialized with the call's serializer, or, when
 * that fails or is too large, its message and reason in header entries.
 */
export function encodeFailure(id: number, response: boolean, err: RpcError, serializer: Serializer, sendStack: boolean, payload: number): Buffer {
  const status = statusOfCode(err.code);
  try {
    const body = serializer.serialize(err.toWire(sendStack));
    if (3 + body.length <= payload) return encodeStreamError(id, response, status, serializer.id, body);
  } catch {
    // `data` the serializer cannot encode: the message still gets through below
  }
  return encodeStreamErrorEntries(id, response, status, err.message, err.reason);
}

/** Bytes a frame cost on the wire, as both ends count it against a stream's window. */
export function frameSize(headerLength: number, bodyLength: number): number {
  return FIXED_LENGTH + headerLength + bodyLength;
}

/**
 * True when the writer of `stream` ignored flow control: more than twice `window` unread, and a
 * window or more unread even without the item that just arrived (an honest writer sends only while
 * it has credit, so it can overshoot by one item, never by a window). `window` is the grant the
 * writer went by: the stream's own, or the default before the reader could announce its own.
 */
export function ignoresCredit(stream: InboundStream, size: number, window: number): boolean {
  const buffered = stream.buffered;
  return buffered > 2 * window && buffered - size >= window;
}

/** The coded error for a writer that ignored flow control. */
export function overflowError(what: string, remote: string, buffered: number, window: number): RpcError {
  return new RpcError(ProtocolErrors.STREAM_OVERFLOW(what, remote, buffered, window).message, RpcCode.LIMIT_EXCEEDED, {
    reason: ProtocolErrors.STREAM_OVERFLOW.code,
    retryable: false,
  });
}

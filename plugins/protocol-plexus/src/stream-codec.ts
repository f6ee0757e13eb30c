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
  return frameItem(id, response, serializeItem(item, serializer, what), compressor, threshold, payload, what);
}

/** One item serialized with the call's serializer; a coded error when it cannot be. */
export function serializeItem(item: unknown, serializer: Serializer, what: string): Uint8Array {
  try {
    return serializer.serialize(item);
  } catch (err) {
    throw rpcError(ProtocolErrors.SERIALIZE, RpcCode.SERIALIZATION, `an item of ${what}`, serializer.name, (err as Error).message);
  }
}

/** The `STREAM_DATA` frame of one serialized item (`body`), compressed as {@link encodeItem} says. */
export function frameItem(
  id: number,
  response: boolean,
  body: Uint8Array,
  compressor: Compressor | undefined,
  threshold: number,
  payload: number,
  what: string,
  batch = false,
): Buffer {
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
  if (size > payload) throw itemTooLarge(what, size, payload);
  return encodeStreamData(id, response, compressorId, body, batch);
}

/** The coded error for an item whose frame would exceed the payload limit. */
export function itemTooLarge(what: string, size: number, payload: number): RpcError {
  return rpcError(ProtocolErrors.PAYLOAD_TOO_LARGE, RpcCode.PAYLOAD_TOO_LARGE, `an item of ${what}`, size, payload);
}

/**
 * Steps of credit in a window: a reader gives credit back each time it has read a quarter of its
 * window. With half-window steps the writer, having sent a window, waits for the first half's
 * credit while the reader goes through the second half and its credit leaves only once the
 * reader's current read is done: on loopback both sides idled for about a third of the time.
 */
export const CREDIT_STEPS = 4;

/**
 * Bytes of items a writer gathers into one batched `STREAM_DATA` frame before it sends it (16
 * KiB: a few hundred small items share one frame header, one serializer call on each side and one
 * credit check, while a frame stays far below a window, so the reader gets items in steady slices).
 */
export const BATCH_BYTES = 16 * 1024;
/** Most items one batch holds, however small they are. */
export const BATCH_ITEMS = 1024;

/**
 * Items waiting to leave together in one batched `STREAM_DATA` frame (flag `BATCH`), whose body
 * is the items as one array serialized with the call's serializer. A writer adds the items that
 * are ready in the same turn and sends the batch when it is full, when its credit is used up, at
 * the end of the turn, and before the stream's end or error; a batch of one item goes out as a
 * plain `STREAM_DATA` frame. How many items make a batch follows the size of the last frame's
 * items, so a batch stays near {@link BATCH_BYTES}; the first item always goes alone.
 *
 * Scope: one per writing stream; event loop only.
 */
export class ItemBatch {
  readonly items: unknown[] = [];
  /** Items to gather before sending (from the last frame's bytes per item). */
  limit = 1;
  /** Bytes per item the last frame showed; what gathered items are guessed to cost. */
  itemBytes = 0;

  get count(): number {
    return this.items.length;
  }

  /** Bytes the gathered items are guessed to take on the wire. */
  get estimate(): number {
    return FIXED_LENGTH + this.items.length * this.itemBytes;
  }

  /** A frame of `bodyBytes` carried `count` items: the next batches are sized from it. */
  learn(bodyBytes: number, count: number): void {
    this.itemBytes = Math.max(1, Math.ceil(bodyBytes / count));
    this.limit = Math.max(1, Math.min(BATCH_ITEMS, Math.floor(BATCH_BYTES / this.itemBytes)));
  }
}

/**
 * Queues the items of one batched frame of `size` bytes for the reader, one by one: the bytes are
 * shared out among them (the first takes the remainder), so the reader's credit adds up to the
 * frame's size as the writer counted it.
 */
export function pushBatch(inbound: InboundStream, items: unknown[], size: number): void {
  const n = items.length;
  const each = Math.floor(size / n);
  inbound.push(items[0], size - each * (n - 1));
  for (let i = 1; i < n; i++) inbound.push(items[i], each);
}

/** The coded error for a batched `STREAM_DATA` frame whose body is not a non-empty array of items. */
export function batchError(what: string, code: RpcCode): RpcError {
  return rpcError(ProtocolErrors.DESERIALIZE, code, `a batch of items of ${what}`, 'the plexus batch framing', 'the body is not a non-empty array of items');
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

import { RpcCode } from '@plexus/kernel/spi';

/**
 * The constants of the plexus wire format. `docs/reference/protocol.md` draws the layout; every
 * number here appears there too.
 */

/** Two bytes that open every frame. The first is not ASCII, so text protocols are refused at once. */
export const MAGIC_0 = 0xe7;
export const MAGIC_1 = 0x58;
/** Bumped only for an incompatible change of the fixed part; new features go into header entries. */
export const VERSION = 1;
/** Bytes of the fixed part: magic, version, flags, status, event, reserved, id, lengths. */
export const FIXED_LENGTH = 24;

/** Flag bits (byte 3). Unknown bits are ignored so that newer peers may add some. */
export const Flag = {
  /** Set on responses; clear on requests. */
  RESPONSE: 0x01,
  /** Request only: the sender awaits no response. */
  ONE_WAY: 0x02,
  /** The frame is an event (byte 5 says which), not a call. */
  EVENT: 0x04,
  /**
   * On an OK response: the answer is a stream and its items follow as `STREAM_DATA` events, until
   * a `STREAM_END` or `STREAM_ERROR`. The response itself carries no value.
   */
  STREAM: 0x08,
  /**
   * Several stream items in one frame. On a two-way request: the consumer reads batched
   * `STREAM_DATA` events for the call's streamed answer. On a stream-start response or a
   * `STREAM_CREDIT` event from the provider: the provider reads them for the call's client stream.
   * On a `STREAM_DATA` event: the body is a non-empty array of items serialized as one value with
   * the call's serializer; the reader hands them over one by one. A writer batches only for a
   * reader that said it reads batches: an older peer never sets the bit, so it never gets a batch.
   */
  BATCH: 0x10,
} as const;

/** Event kinds (byte 5 when the EVENT flag is set). */
export const EventKind = {
  /** Liveness probe; a two-way heartbeat is answered with a heartbeat response. */
  HEARTBEAT: 1,
  /** Provider → consumer: this provider is shutting down; send it no new calls. */
  CLOSING: 2,
  /**
   * Consumer → provider, one-way, carrying the id of a request the consumer gave up on (deadline
   * passed, caller aborted): the provider aborts that call's signal and sends no response.
   */
  CANCEL: 3,
  /**
   * One item of a stream, on the id of its call: from the provider (RESPONSE bit set) for a
   * streamed answer, from the consumer (no RESPONSE bit) for a client stream. The body is the item,
   * serialized with the call's serializer and compressed above the threshold like a body (a
   * `COMPRESSOR` entry then says so).
   */
  STREAM_DATA: 4,
  /** The writer's stream ended: no more items. Empty. */
  STREAM_END: 5,
  /**
   * The writer's stream failed after the items already sent: status byte and error body or entries
   * as an error response carries them.
   */
  STREAM_ERROR: 6,
  /** The reader of a stream grants its writer more bytes: the body is a varint byte count. */
  STREAM_CREDIT: 7,
} as const;

/** Receive window a stream's reader grants when its frames carry no `STREAM_WINDOW` entry (256 KiB). */
export const DEFAULT_STREAM_WINDOW = 256 * 1024;

/** Header entry tags. An entry is `tag (u8) · length (varint) · value`; unknown tags are skipped. */
export const Tag = {
  /** u8 serializer id of the body. */
  SERIALIZER: 0x01,
  /** u8 compressor id of the body; absent means identity (0). */
  COMPRESSOR: 0x02,
  /** UTF-8 service key `group/interface:version`. */
  SERVICE: 0x03,
  /** UTF-8 method name. */
  METHOD: 0x04,
  /** varint method index (position in the provider's method table); used when METHOD is absent. */
  METHOD_INDEX: 0x05,
  /** varint milliseconds the consumer still waits for the answer. */
  TIMEOUT: 0x06,
  /** One attachment: varint key length · UTF-8 key · UTF-8 value (the rest). Repeatable. */
  ATTACHMENT: 0x07,
  /** Error responses without a body: UTF-8 message. */
  ERROR_MESSAGE: 0x08,
  /** Error responses without a body: UTF-8 reason code (`PLEXUS_ERR_*`). */
  ERROR_REASON: 0x09,
  /** Request only: u8 id of the compressor the response may use (sent whatever the request body's size). */
  ACCEPT_COMPRESSOR: 0x0a,
  /**
   * Request only: varint position of the argument that is a client stream. The serialized
   * arguments hold nil there; the items follow as `STREAM_DATA` events from the consumer.
   */
  STREAM_ARG: 0x0b,
  /**
   * varint receive window, in bytes, that the frame's sender grants for the stream it will read:
   * on a request, for a streamed answer; on a stream-start response, for the client stream.
   * Absent: {@link DEFAULT_STREAM_WINDOW}.
   */
  STREAM_WINDOW: 0x0c,
} as const;

/**
 * Response status (byte 4). One status per {@link RpcCode} so that a code survives the trip; 0 is
 * success. Values are fixed forever: add new ones at the end.
 */
export const Status = {
  OK: 0,
  CLIENT_TIMEOUT: 1,
  SERVER_TIMEOUT: 2,
  BAD_REQUEST: 3,
  BAD_RESPONSE: 4,
  SERVICE_NOT_FOUND: 5,
  METHOD_NOT_FOUND: 6,
  SERVICE_ERROR: 7,
  SERVER_ERROR: 8,
  EXECUTOR_EXHAUSTED: 9,
  SHUTTING_DOWN: 10,
  PAYLOAD_TOO_LARGE: 11,
  SERIALIZATION_ERROR: 12,
  LIMIT_EXCEEDED: 13,
  FORBIDDEN: 14,
  NETWORK: 15,
  NO_PROVIDER: 16,
  CANCELLED: 17,
  UNKNOWN: 18,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const CODE_BY_STATUS: readonly RpcCode[] = [
  RpcCode.UNKNOWN, // OK never maps to an error; kept so indices line up
  RpcCode.TIMEOUT,
  RpcCode.SERVER_TIMEOUT,
  RpcCode.BAD_REQUEST,
  RpcCode.BAD_RESPONSE,
  RpcCode.SERVICE_NOT_FOUND,
  RpcCode.METHOD_NOT_FOUND,
  RpcCode.SERVICE_ERROR,
  RpcCode.SERVER_ERROR,
  RpcCode.EXECUTOR_EXHAUSTED,
  RpcCode.SHUTTING_DOWN,
  RpcCode.PAYLOAD_TOO_LARGE,
  RpcCode.SERIALIZATION,
  RpcCode.LIMIT_EXCEEDED,
  RpcCode.FORBIDDEN,
  RpcCode.NETWORK,
  RpcCode.NO_PROVIDER,
  RpcCode.CANCELLED,
  RpcCode.UNKNOWN,
];

const STATUS_BY_CODE = new Map<RpcCode, Status>();
CODE_BY_STATUS.forEach((code, status) => {
  if (status !== Status.OK && !STATUS_BY_CODE.has(code)) STATUS_BY_CODE.set(code, status as Status);
});

/** The RpcCode an error status stands for; statuses from newer peers become UNKNOWN. */
export function codeOfStatus(status: number): RpcCode {
  return status > 0 && status < CODE_BY_STATUS.length ? CODE_BY_STATUS[status] : RpcCode.UNKNOWN;
}

/** The status that carries an RpcCode. */
export function statusOfCode(code: RpcCode): Status {
  return STATUS_BY_CODE.get(code) ?? Status.UNKNOWN;
}

/** Bytes a varint of `n` (0 ≤ n < 2^32) takes. */
export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** Writes `n` (0 ≤ n < 2^32) as an unsigned LEB128 varint at `p`; returns the next position. */
export function writeVarint(buf: Uint8Array, p: number, n: number): number {
  while (n >= 0x80) {
    buf[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[p++] = n;
  return p;
}

/**
 * Writes the fixed part at `buf[off .. off + 24)`. Ids are JS numbers below 2^53, sent as two u32.
 */
export function writeFixed(
  buf: Buffer,
  flags: number,
  status: number,
  event: number,
  id: number,
  headerLength: number,
  bodyLength: number,
  off = 0,
): void {
  buf[off] = MAGIC_0;
  buf[off + 1] = MAGIC_1;
  buf[off + 2] = VERSION;
  buf[off + 3] = flags;
  buf[off + 4] = status;
  buf[off + 5] = event;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  writeU32(buf, off + 8, id > 0xffffffff ? Math.floor(id / 0x100000000) : 0);
  writeU32(buf, off + 12, id >>> 0);
  writeU32(buf, off + 16, headerLength);
  writeU32(buf, off + 20, bodyLength);
}

/** Big-endian u32 at `p`, byte by byte (the values are known to fit: no range check needed). */
function writeU32(buf: Buffer, p: number, n: number): void {
  buf[p] = n >>> 24;
  buf[p + 1] = n >>> 16;
  buf[p + 2] = n >>> 8;
  buf[p + 3] = n;
}

import { ReadProgress } from '@plexus/kernel/spi';
import { FIXED_LENGTH, MAGIC_0, MAGIC_1, VERSION } from './wire';

/** Why a connection's bytes were refused as a whole. */
export type GarbageKind = 'magic' | 'version';

/** What a {@link FrameDecoder} reports to. Called synchronously from `push`. */
export interface FrameSink {
  /**
   * One complete frame at `buf[offset .. offset + 24 + headerLength + bodyLength)`; the decoder's
   * fields describe its fixed part. The bytes are valid during the call only (they may be a view of
   * a socket chunk or of the decoder's scratch).
   */
  onFrame(decoder: FrameDecoder, buf: Buffer, offset: number): void;
  /** A frame declared larger than the limit; its fields are set, its bytes will be skipped. */
  onOversize(decoder: FrameDecoder): void;
  /** Bytes that are not plexus frames; the decoder is dead from now on. `sample` is the first bytes seen. */
  onGarbage(decoder: FrameDecoder, kind: GarbageKind, sample: Buffer): void;
}

/** Smallest buffer a partial frame starts with; it grows (doubling) as the frame's bytes arrive. */
const MIN_PARTIAL = 4096;

/**
 * Cuts a byte stream into plexus frames. Scope: one per connection; not re-entrant.
 *
 * A frame that lies wholly inside a chunk is handed over in place, without a copy. A frame that
 * spans chunks is copied into one buffer that grows by doubling as its bytes arrive, up to the
 * frame's declared size (already checked against `limit`): held memory stays within twice what
 * the peer sent (at least 4 KiB) however the frame is cut, even one byte per TCP segment, and the
 * complete frame is handed over from that buffer without a further copy. A frame declared over
 * `limit` bytes (header entries plus body) is reported from its fixed part and then skipped as it
 * streams in: memory never holds more than one frame within the limit.
 *
 * `push` returns {@link ReadProgress} flags for the transport: whether a frame is left incomplete
 * (its `frameTimeout` runs) and whether one completed.
 */
export class FrameDecoder {
  /** Fixed part of the frame being reported. */
  flags = 0;
  status = 0;
  event = 0;
  id = 0;
  headerLength = 0;
  bodyLength = 0;

  private readonly head = Buffer.allocUnsafe(FIXED_LENGTH);
  private headFill = 0;
  /** The frame being collected across chunks, and how much of it arrived. */
  private partial: Buffer | undefined;
  private partialFill = 0;
  /** Total bytes of the frame being collected; 0 when none. */
  private need = 0;
  /** Bytes of an oversize frame still to drop. */
  private skip = 0;
  private dead = false;

  constructor(
    private readonly limit: number,
    private readonly sink: FrameSink,
  ) {}

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.headFill + this.partialFill;
  }

  /** Bytes reserved for the incomplete frame (what it costs in memory). */
  get reserved(): number {
    return this.partial === undefined ? 0 : this.partial.length;
  }

  get isDead(): boolean {
    return this.dead;
  }

  /** Stops decoding (the connection closed); drops what was held. */
  destroy(): void {
    this.dead = true;
    this.partial = undefined;
    this.partialFill = 0;
    this.need = 0;
    this.skip = 0;
    this.headFill = 0;
  }

  /** Decodes `chunk`, reporting frames to the sink; returns {@link ReadProgress} flags. */
  push(chunk: Buffer): ReadProgress {
    const end = chunk.length;
    let off = 0;
    let complete: number = ReadProgress.IDLE;
    while (off < end && !this.dead) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - off);
        this.skip -= n;
        off += n;
        if (this.skip === 0) complete = ReadProgress.COMPLETE;
        continue;
      }
      if (this.need > 0) {
        const n = Math.min(this.need - this.partialFill, end - off);
        this.append(chunk, off, n);
        off += n;
        if (this.partialFill < this.need) break;
        const frame = this.partial as Buffer;
        this.partial = undefined;
        this.partialFill = 0;
        this.need = 0;
        complete = ReadProgress.COMPLETE;
        this.sink.onFrame(this, frame, 0);
        continue;
      }
      if (this.headFill > 0) {
        const n = Math.min(FIXED_LENGTH - this.headFill, end - off);
        chunk.copy(this.head, this.headFill, off, off + n);
        this.headFill += n;
        off += n;
        if (this.headFill < FIXED_LENGTH) break;
        this.headFill = 0;
        const total = this.readFixed(this.head, 0);
        if (total <= 0) continue; // dead, or oversize and now skipping
        if (total === FIXED_LENGTH) {
          complete = ReadProgress.COMPLETE;
          this.sink.onFrame(this, this.head, 0);
        } else {
          this.begin(total, this.head, 0, FIXED_LENGTH);
        }
        continue;
      }
      const avail = end - off;
      if (avail < FIXED_LENGTH) {
        chunk.copy(this.head, 0, off, end);
        this.headFill = avail;
        break;
      }
      const total = this.readFixed(chunk, off);
      if (total < 0) break;
      if (total === 0) {
        off += FIXED_LENGTH;
        continue;
      }
      if (avail >= total) {
        complete = ReadProgress.COMPLETE;
        this.sink.onFrame(this, chunk, off);
        off += total;
        continue;
      }
      this.begin(total, chunk, off, avail);
      break;
    }
    if (this.dead) return complete;
    return this.headFill > 0 || this.need > 0 || this.skip > 0 ? complete | ReadProgress.PARTIAL : complete;
  }

  /** Starts collecting a frame of `total` bytes with `src[off .. off + n)`. */
  private begin(total: number, src: Buffer, off: number, n: number): void {
    this.need = total;
    this.partial = Buffer.allocUnsafe(Math.min(total, Math.max(MIN_PARTIAL, 2 * n)));
    this.partialFill = 0;
    this.append(src, off, n);
  }

  /** Copies `src[off .. off + n)` into the partial frame, growing it by doubling up to `need`. */
  private append(src: Buffer, off: number, n: number): void {
    let buf = this.partial as Buffer;
    const fill = this.partialFill;
    if (fill + n > buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.need, Math.max(2 * buf.length, fill + n)));
      buf.copy(grown, 0, 0, fill);
      this.partial = buf = grown;
    }
    src.copy(buf, fill, off, off + n);
    this.partialFill = fill + n;
  }

  /**
   * Reads the fixed part at `buf[off..]`. Returns the frame's total length; 0 when it is over the
   * limit (reported, and its remaining bytes are now being skipped); -1 when the bytes are garbage.
   */
  private readFixed(buf: Buffer, off: number): number {
    if (buf[off] !== MAGIC_0 || buf[off + 1] !== MAGIC_1 || buf[off + 2] !== VERSION) {
      this.dead = true;
      const kind: GarbageKind = buf[off] === MAGIC_0 && buf[off + 1] === MAGIC_1 ? 'version' : 'magic';
      this.sink.onGarbage(this, kind, Buffer.from(buf.subarray(off, off + FIXED_LENGTH)));
      return -1;
    }
    this.flags = buf[off + 3];
    this.status = buf[off + 4];
    this.event = buf[off + 5];
    this.id = buf.readUInt32BE(off + 8) * 0x100000000 + buf.readUInt32BE(off + 12);
    this.headerLength = buf.readUInt32BE(off + 16);
    this.bodyLength = buf.readUInt32BE(off + 20);
    const rest = this.headerLength + this.bodyLength;
    if (rest > this.limit) {
      this.skip = rest;
      this.sink.onOversize(this);
      return 0;
    }
    return FIXED_LENGTH + rest;
  }
}

/** `47 45 54 20 … "GET "` — enough of the first bytes to recognise what was sent. */
export function describeBytes(sample: Buffer): string {
  const bytes = sample.subarray(0, 8);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  return `first bytes ${hex} "${text}"`;
}

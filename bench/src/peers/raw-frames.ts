/**
 * Framing for the raw TCP peer: `[u32 length][u32 request id][payload]`, big-endian, where
 * `length` counts the id and the payload. Two write strategies: coalesced (frames staged in one
 * reusable buffer and written once per flush) and one `socket.write` per frame.
 */
import type { Socket } from 'node:net';

/** Bytes before the payload: length + request id. */
export const FRAME_HEADER = 8;

/** How frames leave the process. */
export type WriteMode = 'coalesce' | 'perframe';

/** Splits a byte stream into frames; a frame split across reads is stitched once. */
export class FrameParser {
  private rest: Buffer | null = null;

  /** @param onFrame receives the request id and the payload's bounds inside `buf`. */
  constructor(private readonly onFrame: (id: number, buf: Buffer, start: number, end: number) => void) {}

  /** Feeds one chunk read from the socket. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let off = 0;
    const len = buf.length;
    while (len - off >= FRAME_HEADER) {
      const size = buf.readUInt32BE(off);
      const end = off + 4 + size;
      if (end > len) break;
      this.onFrame(buf.readUInt32BE(off + 4), buf, off + FRAME_HEADER, end);
      off = end;
    }
    if (off < len) this.rest = buf.subarray(off);
  }
}

/** Writes frames to a socket with one of the two strategies. */
export interface FrameWriter {
  /** Queues or writes one frame whose payload is `src[start, end)`. */
  write(id: number, src: Buffer, start: number, end: number): void;
  /** Writes whatever is staged now (coalescing writers only). */
  flush(): void;
  /** Bytes staged and not yet written. */
  readonly staged: number;
}

/**
 * Stages frames in one reusable buffer and writes them with a single `socket.write`, copied
 * into a right-sized buffer so the stage can be reused at once.
 */
export class CoalescingFrameWriter implements FrameWriter {
  private stage = Buffer.allocUnsafe(64 * 1024);
  private used = 0;

  constructor(private readonly socket: Socket) {}

  get staged(): number {
    return this.used;
  }

  write(id: number, src: Buffer, start: number, end: number): void {
    const need = FRAME_HEADER + end - start;
    if (this.used + need > this.stage.length) this.grow(need);
    const stage = this.stage;
    const at = this.used;
    stage.writeUInt32BE(need - 4, at);
    stage.writeUInt32BE(id, at + 4);
    src.copy(stage, at + FRAME_HEADER, start, end);
    this.used = at + need;
  }

  flush(): void {
    if (this.used === 0) return;
    const out = Buffer.allocUnsafe(this.used);
    this.stage.copy(out, 0, 0, this.used);
    this.used = 0;
    this.socket.write(out);
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.stage.length * 2, this.used + need));
    this.stage.copy(next, 0, 0, this.used);
    this.stage = next;
  }
}

/** One `socket.write` per frame: what a naive RPC stack does; shown for information. */
export class PerFrameWriter implements FrameWriter {
  readonly staged = 0;

  constructor(private readonly socket: Socket) {}

  write(id: number, src: Buffer, start: number, end: number): void {
    const out = Buffer.allocUnsafe(FRAME_HEADER + end - start);
    out.writeUInt32BE(out.length - 4, 0);
    out.writeUInt32BE(id, 4);
    src.copy(out, FRAME_HEADER, start, end);
    this.socket.write(out);
  }

  flush(): void {
    // Every frame is already written.
  }
}

/** Creates the writer for `mode`. */
export function createFrameWriter(socket: Socket, mode: WriteMode): FrameWriter {
  return mode === 'perframe' ? new PerFrameWriter(socket) : new CoalescingFrameWriter(socket);
}

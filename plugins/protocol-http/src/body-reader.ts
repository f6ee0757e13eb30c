/**
 * Collects a request or response body up to a limit, as one buffer that grows by doubling: a body
 * sent in many small segments costs at most twice its size, never one object per segment, and a
 * declared length is never allocated ahead of the bytes that arrive. Scope: per message.
 */
export class BodyReader {
  private first: Buffer | undefined = undefined;
  private buf: Buffer | undefined = undefined;
  /** Bytes received so far. */
  length = 0;

  constructor(
    private readonly limit: number,
    /** The declared length, when the message had one (a hint for the first allocation only). */
    private readonly declared: number,
  ) {}

  /** Adds a chunk; false once the body passed the limit (nothing more is kept). */
  push(chunk: Buffer): boolean {
    const next = this.length + chunk.length;
    if (next > this.limit) return false;
    if (this.length === 0 && this.buf === undefined) {
      // The common case, a whole body in one chunk, copies nothing.
      this.first = chunk;
      this.length = next;
      return true;
    }
    let buf = this.buf;
    if (buf === undefined || next > buf.length) {
      let size = Math.max(buf?.length ?? 0, this.declared > 0 ? Math.min(this.declared, 64 * 1024) : 16 * 1024);
      while (size < next) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, this.limit));
      if (buf !== undefined) buf.copy(grown, 0, 0, this.length);
      else if (this.first !== undefined) this.first.copy(grown, 0);
      this.first = undefined;
      this.buf = buf = grown;
    }
    chunk.copy(buf, this.length);
    this.length = next;
    return true;
  }

  /** The body received (empty when none). */
  bytes(): Buffer {
    if (this.buf !== undefined) return this.buf.subarray(0, this.length);
    return this.first ?? EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

const EMPTY = Buffer.alloc(0);

/** What {@link MessageReader.push} found wrong. */
export type ReadProblem = { kind: 'too-large'; declared: number } | { kind: 'bad-flag'; flag: number };

/**
 * Splits an HTTP/2 stream's DATA into gRPC messages (5-byte prefix: compressed flag, big-endian
 * length). Scope: one per stream and direction. It hands every complete message to `onMessage`,
 * so a stream carrying a sequence of messages (streaming) needs nothing more; a unary call simply
 * counts them. A declared length over `maxMessageSize` is refused from the prefix, before its body
 * is buffered; a partial message is held as its chunks and joined once, when complete.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Body length of the message being read, or -1 while its prefix is incomplete. */
  private need = -1;
  private compressed = false;
  private failed = false;

  constructor(
    private readonly maxMessageSize: number,
    private readonly onMessage: (body: Buffer, compressed: boolean) => void,
  ) {}

  /** Bytes held for an incomplete message. */
  get pending(): number {
    return this.buffered;
  }

  /** Feeds a DATA chunk; returns a problem (and reads nothing more) when the stream is unusable. */
  push(chunk: Buffer): ReadProblem | undefined {
    if (this.failed) return undefined;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 5) return undefined;
        const head = this.take(5);
        const flag = head[0];
        if (flag > 1) {
          this.failed = true;
          return { kind: 'bad-flag', flag };
        }
        const length = head.readUInt32BE(1);
        if (length > this.maxMessageSize) {
          this.failed = true;
          this.chunks = [];
          this.buffered = 0;
          return { kind: 'too-large', declared: length };
        }
        this.need = length;
        this.compressed = flag === 1;
      }
      if (this.buffered < this.need) return undefined;
      const body = this.take(this.need);
      this.need = -1;
      this.onMessage(body, this.compressed);
      if (this.failed) return undefined;
    }
  }

  /** True when no partial message is held (a stream may end here). */
  get atBoundary(): boolean {
    return this.need < 0 && this.buffered === 0;
  }

  /** Stops delivering messages. */
  stop(): void {
    this.failed = true;
    this.chunks = [];
    this.buffered = 0;
  }

  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[0];
    if (first.length >= n) {
      // Most messages sit in one chunk: a view, no copy.
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

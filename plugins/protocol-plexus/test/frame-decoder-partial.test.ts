import { ReadProgress } from '@plexus/kernel/spi';
import { FrameDecoder, type FrameSink } from '../src/frame-decoder';
import { FIXED_LENGTH, MAGIC_0, MAGIC_1, VERSION } from '../src/wire';

/** A request frame with `body` bytes of body and no header entries. */
function frame(body: number, fill = 7): Buffer {
  const f = Buffer.alloc(FIXED_LENGTH + body, fill);
  f[0] = MAGIC_0;
  f[1] = MAGIC_1;
  f[2] = VERSION;
  f[3] = 0;
  f.writeUInt32BE(0, 8);
  f.writeUInt32BE(1, 12);
  f.writeUInt32BE(0, 16);
  f.writeUInt32BE(body, 20);
  return f;
}

function collector(): FrameSink & { frames: Buffer[] } {
  const frames: Buffer[] = [];
  return {
    frames,
    onFrame: (d, buf, off) => frames.push(Buffer.from(buf.subarray(off, off + FIXED_LENGTH + d.headerLength + d.bodyLength))),
    onOversize: () => {},
    onGarbage: () => {},
  };
}

describe('FrameDecoder: partial frames', () => {
  it('holds a frame dribbled one byte per chunk in one buffer of at most twice what arrived', () => {
    const sink = collector();
    const d = new FrameDecoder(8 * 1024 * 1024, sink);
    const f = frame(256 * 1024);
    let worst = 0;
    let notPartial = 0;
    let last: ReadProgress = 0;
    for (let i = 0; i < f.length; i++) {
      // A fresh one-byte Buffer per chunk, as a socket hands over one per read.
      last = d.push(Buffer.from([f[i]]));
      if (i === f.length - 1) break;
      if (last !== ReadProgress.PARTIAL) notPartial++;
      worst = Math.max(worst, d.reserved / Math.max(d.buffered, 2048));
    }
    expect(notPartial).toBe(0);
    expect(last).toBe(ReadProgress.COMPLETE);
    expect(worst).toBeLessThanOrEqual(2);
    expect(d.reserved).toBe(0);
    expect(sink.frames).toHaveLength(1);
    expect(sink.frames[0].equals(f)).toBe(true);
  });

  it('never reserves more than the declared frame, whatever the cut', () => {
    const sink = collector();
    const d = new FrameDecoder(8 * 1024 * 1024, sink);
    const f = frame(10_000);
    d.push(f.subarray(0, 6000));
    expect(d.reserved).toBe(f.length);
    d.push(f.subarray(6000));
    expect(sink.frames[0].equals(f)).toBe(true);
  });

  it('reports PARTIAL while a frame, its fixed part or an oversize skip is unfinished, and COMPLETE when one ended', () => {
    const sink = collector();
    const d = new FrameDecoder(1024, sink);
    const a = frame(100, 1);
    const b = frame(100, 2);
    expect(d.push(a.subarray(0, 10))).toBe(ReadProgress.PARTIAL); // inside the fixed part
    expect(d.push(a.subarray(10, 50))).toBe(ReadProgress.PARTIAL);
    // The rest of a and the start of b: one ended, another began.
    expect(d.push(Buffer.concat([a.subarray(50), b.subarray(0, 30)]))).toBe(ReadProgress.COMPLETE | ReadProgress.PARTIAL);
    expect(d.push(b.subarray(30))).toBe(ReadProgress.COMPLETE);
    expect(d.push(Buffer.concat([a, b]))).toBe(ReadProgress.COMPLETE);
    const big = frame(4096);
    expect(d.push(big.subarray(0, 100))).toBe(ReadProgress.PARTIAL); // oversize: skipping
    expect(d.reserved).toBe(0);
    expect(d.push(big.subarray(100))).toBe(ReadProgress.COMPLETE);
    expect(sink.frames).toHaveLength(4);
  });
});

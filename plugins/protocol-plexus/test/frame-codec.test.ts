import {
  encodeErrorResponse,
  encodeEvent,
  encodeRequest,
  encodeResponse,
  encodeRoute,
  requestHeaderSize,
  responseHeaderSize,
  HeaderReader,
} from '../src/frame-codec';
import { FrameDecoder, type FrameSink, type GarbageKind } from '../src/frame-decoder';
import { codeOfStatus, EventKind, FIXED_LENGTH, Flag, Status, statusOfCode, Tag, writeFixed } from '../src/wire';
import { RpcCode } from '@plexus/kernel/spi';

interface Seen {
  flags: number;
  status: number;
  event: number;
  id: number;
  header: Buffer;
  body: Buffer;
}

/** Records frames (copied, since the decoder's bytes are only valid during the call). */
class Recorder implements FrameSink {
  frames: Seen[] = [];
  oversize: Array<{ id: number; length: number }> = [];
  garbage: Array<{ kind: GarbageKind; sample: Buffer }> = [];
  onFrame(d: FrameDecoder, buf: Buffer, off: number): void {
    const h = off + FIXED_LENGTH;
    this.frames.push({
      flags: d.flags,
      status: d.status,
      event: d.event,
      id: d.id,
      header: Buffer.from(buf.subarray(h, h + d.headerLength)),
      body: Buffer.from(buf.subarray(h + d.headerLength, h + d.headerLength + d.bodyLength)),
    });
  }
  onOversize(d: FrameDecoder): void {
    this.oversize.push({ id: d.id, length: d.headerLength + d.bodyLength });
  }
  onGarbage(_d: FrameDecoder, kind: GarbageKind, sample: Buffer): void {
    this.garbage.push({ kind, sample });
  }
}

function decodeAll(bytes: Buffer, limit = 1 << 20): Recorder {
  const r = new Recorder();
  new FrameDecoder(limit, r).push(bytes);
  return r;
}

function readHeader(header: Buffer): HeaderReader {
  const h = new HeaderReader();
  expect(h.read(header, 0, header.length)).toBe(true);
  return h;
}

const route = encodeRoute('g/demo.Greeter:1.0.0', 'sayHello');

function sampleRequest(id: number, body = Buffer.from('["ada"]'), attachments: Record<string, string> = { trace: 'abc', 'ünï': 'çødé' }): Buffer {
  const hl = requestHeaderSize(route, 2, 3, 1500, attachments);
  return encodeRequest(id, false, route, 1, 2, 3, 1500, attachments, body, hl);
}

describe('frame codec: round trips', () => {
  it('a request carries route, codecs, timeout and attachments', () => {
    const [f] = decodeAll(sampleRequest(7)).frames;
    // A two-way request says its consumer reads a streamed answer's items batched.
    expect(f.flags).toBe(Flag.BATCH);
    expect(f.id).toBe(7);
    expect(f.body.toString()).toBe('["ada"]');
    const h = readHeader(f.header);
    expect(h.service).toBe('g/demo.Greeter:1.0.0');
    expect(h.method).toBe('sayHello');
    expect(h.methodIndex).toBe(-1);
    expect(h.serializerId).toBe(1);
    expect(h.compressorId).toBe(2);
    expect(h.acceptCompressorId).toBe(3);
    expect(h.timeout).toBe(1500);
    expect(h.attachments).toEqual({ trace: 'abc', 'ünï': 'çødé' });
  });

  it('a one-way request without timeout or compression keeps its header minimal', () => {
    const body = Buffer.from('[]');
    const hl = requestHeaderSize(route, 0, 0, 0, {});
    expect(hl).toBe(route.length + 3);
    const [f] = decodeAll(encodeRequest(1, true, route, 2, 0, 0, 0, {}, body, hl)).frames;
    expect(f.flags & Flag.ONE_WAY).toBe(Flag.ONE_WAY);
    const h = readHeader(f.header);
    expect(h.serializerId).toBe(2);
    expect(h.compressorId).toBe(0);
    expect(h.timeout).toBe(0);
    expect(h.attachments).toBeUndefined();
  });

  it('ids beyond 2^32 survive as two u32 halves', () => {
    const id = 2 ** 40 + 12345;
    const [f] = decodeAll(sampleRequest(id)).frames;
    expect(f.id).toBe(id);
    expect(decodeAll(sampleRequest(Number.MAX_SAFE_INTEGER)).frames[0].id).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('a success response carries serializer, compressor, attachments and body', () => {
    const body = Buffer.from('"hello"');
    const hl = responseHeaderSize(3, { served: 'by-x' });
    const [f] = decodeAll(encodeResponse(9, Status.OK, 1, 3, { served: 'by-x' }, body, hl)).frames;
    expect(f.flags).toBe(Flag.RESPONSE);
    expect(f.status).toBe(Status.OK);
    expect(f.body.toString()).toBe('"hello"');
    const h = readHeader(f.header);
    expect([h.serializerId, h.compressorId]).toEqual([1, 3]);
    expect(h.attachments).toEqual({ served: 'by-x' });
  });

  it('an error response with a serialized body keeps its status', () => {
    const body = Buffer.from(JSON.stringify({ code: 'SERVICE_ERROR', message: 'boom' }));
    const [f] = decodeAll(encodeResponse(3, Status.SERVICE_ERROR, 1, 0, undefined, body, responseHeaderSize(0, undefined))).frames;
    expect(f.status).toBe(Status.SERVICE_ERROR);
    expect(JSON.parse(f.body.toString())).toEqual({ code: 'SERVICE_ERROR', message: 'boom' });
  });

  it('an error response without a body carries message and reason in the header', () => {
    const [f] = decodeAll(encodeErrorResponse(4, Status.SERIALIZATION_ERROR, 'no serializer 77', 'PLEXUS_ERR_PROTOCOL_UNKNOWN_SERIALIZER')).frames;
    expect(f.status).toBe(Status.SERIALIZATION_ERROR);
    expect(f.body.length).toBe(0);
    const h = readHeader(f.header);
    expect(h.errorMessage).toBe('no serializer 77');
    expect(h.errorReason).toBe('PLEXUS_ERR_PROTOCOL_UNKNOWN_SERIALIZER');
  });

  it('events: heartbeat request and response, closing', () => {
    const r = decodeAll(
      Buffer.concat([encodeEvent(EventKind.HEARTBEAT, 5, false, true), encodeEvent(EventKind.HEARTBEAT, 5, true, false), encodeEvent(EventKind.CLOSING, 0, false, false)]),
    );
    expect(r.frames.map((f) => [f.flags, f.event, f.id, f.header.length, f.body.length])).toEqual([
      [Flag.EVENT, EventKind.HEARTBEAT, 5, 0, 0],
      [Flag.EVENT | Flag.RESPONSE, EventKind.HEARTBEAT, 5, 0, 0],
      [Flag.EVENT | Flag.ONE_WAY, EventKind.CLOSING, 0, 0, 0],
    ]);
  });

  it('long strings use multi-byte varint lengths', () => {
    const longKey = 'k'.repeat(300);
    const longValue = 'v'.repeat(70000);
    const frame = sampleRequest(1, Buffer.from('[]'), { [longKey]: longValue });
    const h = readHeader(decodeAll(frame).frames[0].header);
    expect(h.attachments?.[longKey]).toBe(longValue);
  });

  it('every RpcCode maps to a status and back', () => {
    for (const code of Object.values(RpcCode)) expect(codeOfStatus(statusOfCode(code))).toBe(code);
    expect(codeOfStatus(250)).toBe(RpcCode.UNKNOWN);
  });
});

describe('frame codec: extensibility and bad headers', () => {
  /** A request with an extra entry of an unknown tag spliced in, as a newer peer would send. */
  function withUnknownEntry(tag: number, value: Buffer): Buffer {
    const body = Buffer.from('["x"]');
    const base = requestHeaderSize(route, 0, 0, 0, {});
    const extra = Buffer.concat([Buffer.from([tag, value.length]), value]);
    const frame = Buffer.alloc(FIXED_LENGTH + base + extra.length + body.length);
    const plain = encodeRequest(11, false, route, 1, 0, 0, 0, {}, body, base);
    writeFixed(frame, 0, 0, 0, 11, base + extra.length, body.length);
    // unknown entry first, then the known ones, then the body
    extra.copy(frame, FIXED_LENGTH);
    plain.copy(frame, FIXED_LENGTH + extra.length, FIXED_LENGTH);
    return frame;
  }

  it('skips header entries with unknown tags', () => {
    const [f] = decodeAll(withUnknownEntry(0x7f, Buffer.from('from-the-future'))).frames;
    const h = readHeader(f.header);
    expect(h.service).toBe('g/demo.Greeter:1.0.0');
    expect(h.method).toBe('sayHello');
    expect(h.serializerId).toBe(1);
    expect(f.body.toString()).toBe('["x"]');
  });

  it('refuses an entry that runs past the header', () => {
    const h = new HeaderReader();
    expect(h.read(Buffer.from([Tag.SERVICE, 10, 0x61, 0x62]), 0, 4)).toBe(false);
    expect(h.read(Buffer.from([Tag.SERVICE, 0x80]), 0, 2)).toBe(false);
    expect(h.read(Buffer.from([Tag.SERIALIZER, 0]), 0, 2)).toBe(false);
  });

  it('reads a method index and ignores a __proto__ attachment', () => {
    const buf = Buffer.from([Tag.METHOD_INDEX, 2, 0x81, 0x01, Tag.ATTACHMENT, 11, 9, ...Buffer.from('__proto__'), 0x78]);
    const h = readHeader(buf);
    expect(h.methodIndex).toBe(129);
    expect(h.attachments).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });
});

describe('frame decoder: framing', () => {
  const frames = [
    sampleRequest(1),
    encodeEvent(EventKind.HEARTBEAT, 2, false, true),
    encodeResponse(3, Status.OK, 1, 0, undefined, Buffer.from('"a"'), responseHeaderSize(0, undefined)),
    encodeErrorResponse(4, Status.SHUTTING_DOWN, 'bye', undefined),
    sampleRequest(5, Buffer.alloc(3000, 0x61)),
  ];
  const stream = Buffer.concat(frames);
  const expected = decodeAll(stream).frames;
  /** A compact fingerprint: deep-comparing Buffers thousands of times is slow in jest. */
  const sig = (r: Recorder): string =>
    r.frames.map((f) => `${f.flags}/${f.status}/${f.event}/${f.id}/${f.header.toString('hex')}/${f.body.toString('base64')}`).join('|');
  const expectedSig = sig(decodeAll(stream));

  it('decodes many frames from one chunk', () => {
    expect(expected.map((f) => f.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('decodes the same frames when the stream is split at every byte boundary', () => {
    let checked = 0;
    for (let cut = 1; cut < stream.length; cut++) {
      checked++;
      const r = new Recorder();
      const d = new FrameDecoder(1 << 20, r);
      d.push(stream.subarray(0, cut));
      d.push(stream.subarray(cut));
      if (sig(r) !== expectedSig || d.buffered !== 0) throw new Error(`mismatch when cut at byte ${cut}`);
    }
    expect(checked).toBe(stream.length - 1);
  });

  it('decodes the same frames when fed one byte at a time, or in odd-sized chunks', () => {
    for (const size of [1, 7, 23, 24, 25, 100, 1000]) {
      const r = new Recorder();
      const d = new FrameDecoder(1 << 20, r);
      for (let off = 0; off < stream.length; off += size) d.push(stream.subarray(off, off + size));
      expect(sig(r)).toBe(expectedSig);
    }
  });

  it('hands a frame that lies inside one chunk over in place, without copying', () => {
    const frame = sampleRequest(1);
    let seen: Buffer | undefined;
    const d = new FrameDecoder(1 << 20, {
      onFrame: (_d, buf) => (seen = buf),
      onOversize: () => undefined,
      onGarbage: () => undefined,
    });
    d.push(frame);
    expect(seen).toBe(frame);
  });

  it('reports a frame over the limit from its fixed part and skips its bytes without holding them', () => {
    const big = sampleRequest(8, Buffer.alloc(5000, 1));
    const after = sampleRequest(9);
    const r = new Recorder();
    const d = new FrameDecoder(4096, r);
    const all = Buffer.concat([big, after]);
    for (let off = 0; off < all.length; off += 512) {
      d.push(all.subarray(off, off + 512));
      expect(d.buffered).toBeLessThan(512);
    }
    expect(r.oversize).toEqual([{ id: 8, length: big.length - FIXED_LENGTH }]);
    expect(r.frames.map((f) => f.id)).toEqual([9]);
  });

  it('holds no more than what arrived of a frame whose length lies', () => {
    const header = Buffer.alloc(FIXED_LENGTH);
    writeFixed(header, 0, 0, 0, 1, 0, 1_000_000); // claims 1 MB, sends 10 KB
    const r = new Recorder();
    const d = new FrameDecoder(8 << 20, r);
    d.push(header);
    for (let i = 0; i < 10; i++) d.push(Buffer.alloc(1024));
    expect(d.buffered).toBe(FIXED_LENGTH + 10 * 1024);
    expect(r.frames).toHaveLength(0);
    d.destroy();
    expect(d.buffered).toBe(0);
  });

  it('declares garbage on wrong magic and stops decoding', () => {
    const r = new Recorder();
    const d = new FrameDecoder(1 << 20, r);
    d.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    d.push(sampleRequest(1));
    expect(r.garbage).toHaveLength(1);
    expect(r.garbage[0].kind).toBe('magic');
    expect(r.garbage[0].sample.subarray(0, 4).toString()).toBe('GET ');
    expect(r.frames).toHaveLength(0);
    expect(d.isDead).toBe(true);
  });

  it('declares garbage when a short stream has wrong magic once 24 bytes arrived', () => {
    const r = new Recorder();
    const d = new FrameDecoder(1 << 20, r);
    d.push(Buffer.from('GET /'));
    expect(r.garbage).toHaveLength(0);
    d.push(Buffer.from(' HTTP/1.1\r\nHost: a\r\n\r\n'));
    expect(r.garbage.map((g) => g.kind)).toEqual(['magic']);
  });

  it('tells an unknown protocol version apart from garbage', () => {
    const frame = sampleRequest(1);
    frame[2] = 9;
    expect(decodeAll(frame).garbage.map((g) => g.kind)).toEqual(['version']);
  });
});

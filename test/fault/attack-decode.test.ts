import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Plexus } from '@plexus/kernel';
import { encodeRequest, encodeResponse, encodeRoute, FIXED_LENGTH, Flag, FrameDecoder, HeaderReader, requestHeaderSize, responseHeaderSize, Status, Tag, type FrameSink } from '@plexus/protocol-plexus';
import { MsgpackSerializer } from '@plexus/serializer-msgpack';
import { startProvider, type ProviderProcess } from '../e2e/helpers';

/**
 * Hostile request bodies and headers against a real provider process (issue 7: findings 2, 3, 4,
 * 9 and "only the compressors the service accepts"). Each attack is bounded in count and time,
 * and each asserts that the provider's resident memory (sampled from /proc/<pid>/status) stays
 * bounded and that a legitimate call made while the attack is processed is answered within 1 s.
 *
 * The provider runs with a 1 GiB old-space cap so that a regression fails fast (heap OOM) instead
 * of taking the machine's memory; the bounds asserted are far below it.
 */

const ATTACK = path.join(__dirname, '..', 'fixtures', 'attack');
const MiB = 1024 * 1024;
/** RSS growth over the pre-attack baseline that counts as bounded. */
const RSS_GROWTH_LIMIT = 200 * MiB;
const PROBE_LIMIT_MS = 1000;
const msgpack = new MsgpackSerializer();

interface Reply {
  status: number;
  /** Compressor id of the response body. */
  compressorId: number;
  reason?: string;
  message?: string;
}

/** A bare plexus client: writes hand-made frames and collects the responses by request id. */
class RawClient implements FrameSink {
  private readonly decoder = new FrameDecoder(64 * MiB, this);
  private readonly header = new HeaderReader();
  private readonly replies = new Map<number, Reply>();
  private readonly waiters = new Map<number, (r: Reply) => void>();

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  onFrame(d: FrameDecoder, buf: Buffer, off: number): void {
    if (!(d.flags & Flag.RESPONSE) || d.flags & Flag.EVENT) return;
    const h = this.header;
    const hStart = off + FIXED_LENGTH;
    h.read(buf, hStart, hStart + d.headerLength);
    const reply: Reply = { status: d.status, compressorId: h.compressorId, reason: h.errorReason, message: h.errorMessage };
    if (d.status !== Status.OK && d.bodyLength > 0) {
      const body = buf.subarray(hStart + d.headerLength, hStart + d.headerLength + d.bodyLength);
      const wire = msgpack.deserialize(body) as { reason?: string; message?: string };
      reply.reason = wire.reason;
      reply.message = wire.message;
    }
    const waiter = this.waiters.get(d.id);
    if (waiter) {
      this.waiters.delete(d.id);
      waiter(reply);
    } else this.replies.set(d.id, reply);
  }

  onOversize(): void {}
  onGarbage(): void {}

  /** Resolves once every byte is handed to the kernel. */
  send(frame: Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.write(frame, () => resolve()));
  }

  /** The reply to request `id` (bounded wait: a missing reply fails the test). */
  reply(id: number, waitMs = 10_000): Promise<Reply> {
    const done = this.replies.get(id);
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no reply to request ${id} within ${waitMs} ms`));
      }, waitMs);
      this.waiters.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A request frame to `service:1.0.0`, msgpack body, optionally compressed (already) with
 * `compressorId`, asking for responses compressed with `acceptCompressorId`.
 */
function request(id: number, service: string, method: string, body: Uint8Array, compressorId = 0, acceptCompressorId = 0): Buffer {
  const route = encodeRoute(`${service}:1.0.0`, method);
  const headerLength = requestHeaderSize(route, compressorId, acceptCompressorId, 0, undefined);
  return encodeRequest(id, false, route, 2, compressorId, acceptCompressorId, 0, undefined, body, headerLength);
}

/** A request whose header carries `count` attachments with distinct 3-character keys and empty values. */
function requestWithAttachments(id: number, count: number): Buffer {
  const base = request(id, 'attack.GzipSink', 'echo', msgpack.serialize(['x']));
  const headerLength = base.readUInt32BE(16);
  const bodyLength = base.readUInt32BE(20);
  const entries = Buffer.allocUnsafe(count * 6);
  for (let i = 0, p = 0; i < count; i++) {
    entries[p++] = Tag.ATTACHMENT;
    entries[p++] = 4; // key length varint + 3-byte key, empty value
    entries[p++] = 3;
    entries[p++] = 0x21 + (i % 94);
    entries[p++] = 0x21 + (Math.floor(i / 94) % 94);
    entries[p++] = 0x21 + (Math.floor(i / 8836) % 94);
  }
  const fixed = Buffer.from(base.subarray(0, FIXED_LENGTH));
  fixed.writeUInt32BE(headerLength + entries.length, 16);
  return Buffer.concat([fixed, base.subarray(FIXED_LENGTH, FIXED_LENGTH + headerLength), entries, base.subarray(FIXED_LENGTH + headerLength, FIXED_LENGTH + headerLength + bodyLength)]);
}

/** Samples the provider's resident set size every 20 ms until stopped. */
function sampleRss(pid: number): { stop: () => number } {
  let max = 0;
  const read = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) max = Math.max(max, Number(m[1]) * 1024);
    } catch {
      // the process is gone; the liveness assertion reports it
    }
  };
  read();
  const timer = setInterval(read, 20);
  return {
    stop: () => {
      clearInterval(timer);
      read();
      return max;
    },
  };
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('hostile request bodies and headers against a real provider (bounded decoding)', () => {
  let provider: ProviderProcess;
  let app: Plexus;
  let probeRef: { echo<T>(v: T): Promise<T> };

  beforeAll(async () => {
    provider = await startProvider(path.join(ATTACK, 'attack-decode-provider.yaml'), ['--max-old-space-size=1024']);
    app = Plexus.create({
      application: { name: 'attack-decode-probe' },
      references: {
        probe: { interface: 'attack.Lz4Sink', version: '1.0.0', url: `plexus://127.0.0.1:${provider.port}`, timeout: PROBE_LIMIT_MS, retries: 0 },
      },
    });
    await app.start();
    probeRef = app.reference('probe');
    // warm up the probe's connection, so the measured call pays no connect
    await probeRef.echo('warm');
  });

  afterAll(async () => {
    await app?.stop();
    if (provider && provider.child.exitCode === null) provider.child.kill('SIGKILL');
  });

  /**
   * Runs `send` (which resolves once the attack's bytes are handed to the kernel, with a promise of
   * the provider's replies), probes the provider at once, while it processes them, then waits for
   * the replies, probes again after `settleMs`, and checks memory and liveness.
   */
  async function underAttack<T>(send: () => Promise<{ replies: Promise<T> }>, settleMs = 1500): Promise<T> {
    expect(provider.child.exitCode).toBeNull();
    const baseline = rssOf(provider.pid);
    const rss = sampleRss(provider.pid);
    const { replies } = await send();
    const started = Date.now();
    await expect(probeRef.echo('probe during attack')).resolves.toBe('probe during attack');
    const during = Date.now() - started;
    const outcome = await replies;
    await new Promise((r) => setTimeout(r, settleMs));
    const startedAfter = Date.now();
    await expect(probeRef.echo('probe after attack')).resolves.toBe('probe after attack');
    const after = Date.now() - startedAfter;
    const max = rss.stop();
    expect(provider.child.exitCode).toBeNull();
    expect(during).toBeLessThan(PROBE_LIMIT_MS);
    expect(after).toBeLessThan(PROBE_LIMIT_MS);
    expect(max - baseline).toBeLessThan(RSS_GROWTH_LIMIT);
    return outcome;
  }

  it('an 8 KiB gzip body inflating to 8 MiB of msgpack {} tokens is refused by the decode limit (x10)', async () => {
    const inflated = Buffer.alloc(8 * MiB - 1024, 0x80); // fixmap of 0 entries: {}
    inflated[0] = 0xdd; // array32 of all the {} that follow
    inflated.writeUInt32BE(inflated.length - 5, 1);
    const bomb = gzipSync(inflated, { level: 9 });
    expect(bomb.length).toBeLessThan(10 * 1024);
    const client = await RawClient.connect(provider.port);
    try {
      const replies = await underAttack(async () => {
        for (let id = 1; id <= 10; id++) await client.send(request(id, 'attack.GzipSink', 'hold', bomb, 1));
        return { replies: Promise.all(Array.from({ length: 10 }, (_, i) => client.reply(i + 1))) };
      });
      for (const r of replies) {
        expect(r.status).toBe(Status.SERIALIZATION_ERROR);
        expect(r.reason).toBe('PLEXUS_ERR_SERIALIZER_LIMIT');
        expect(r.message).toMatch(/maxElements/);
      }
    } finally {
      client.close();
    }
  }, 60_000);

  it('a 6-byte body declaring an array of 2^25 items is refused without allocating (x100)', async () => {
    const body = Uint8Array.of(0xdd, 0x02, 0x00, 0x00, 0x00, 0xc0);
    const client = await RawClient.connect(provider.port);
    try {
      const frames = Buffer.concat(Array.from({ length: 100 }, (_, i) => request(i + 1, 'attack.GzipSink', 'hold', body)));
      expect(frames.length).toBeLessThan(8 * 1024);
      const replies = await underAttack(async () => {
        await client.send(frames);
        return { replies: Promise.all(Array.from({ length: 100 }, (_, i) => client.reply(i + 1))) };
      });
      for (const r of replies) {
        expect(r.status).toBe(Status.SERIALIZATION_ERROR);
        expect(r.message).toMatch(/declares 33554432 items/);
      }
    } finally {
      client.close();
    }
  }, 60_000);

  it('an 8 MiB header of 1.4 M attachments is refused after the first 256 (x3)', async () => {
    const frame = requestWithAttachments(1, 1_390_000);
    expect(frame.length).toBeGreaterThan(8_000_000);
    const client = await RawClient.connect(provider.port);
    try {
      const replies = await underAttack(async () => {
        const frames = [1, 2, 3].map((id) => {
          const f = Buffer.from(frame);
          f.writeUInt32BE(id, 12);
          return f;
        });
        for (const f of frames) await client.send(f);
        return { replies: Promise.all([1, 2, 3].map((id) => client.reply(id))) };
      });
      for (const r of replies) {
        expect(r.status).toBe(Status.BAD_REQUEST);
        expect(r.reason).toBe('PLEXUS_ERR_PROTOCOL_HEADER_LIMIT');
        expect(r.message).toMatch(/more than 256 attachments/);
      }
    } finally {
      client.close();
    }
  }, 60_000);

  it('EventEmitter members of a service class cannot be called; its own methods can', async () => {
    const client = await RawClient.connect(provider.port);
    try {
      const replies = await underAttack(async () => {
        const calls: Array<[string, unknown[]]> = [
          ['emit', ['audit']],
          ['removeAllListeners', []],
          ['setMaxListeners', [1]],
          ['on', ['audit', null]],
          ['constructor', []],
          ['__proto__', []],
          ['toString', []],
        ];
        for (let i = 0; i < calls.length; i++) await client.send(request(i + 1, 'attack.Notifier', calls[i][0], msgpack.serialize(calls[i][1])));
        return { replies: Promise.all(calls.map((_, i) => client.reply(i + 1))) };
      });
      for (const r of replies) {
        expect(r.status).toBe(Status.METHOD_NOT_FOUND);
        expect(r.reason).toBe('PLEXUS_ERR_SERVICE_METHOD_NOT_FOUND');
      }
      await client.send(request(100, 'attack.Notifier', 'notify', msgpack.serialize(['ada'])));
      expect(await client.reply(100)).toMatchObject({ status: Status.OK });
      // removeAllListeners never ran: the service's own listener is still there
      await client.send(request(101, 'attack.Notifier', 'listenersLeft', msgpack.serialize([])));
      expect((await client.reply(101)).status).toBe(Status.OK);
      const notifier = app.refer<{ listenersLeft(): Promise<number> }>({ interface: 'attack.Notifier', version: '1.0.0', url: `plexus://127.0.0.1:${provider.port}`, timeout: 2000 });
      await expect(notifier.listenersLeft()).resolves.toBe(1);
    } finally {
      client.close();
    }
  }, 60_000);

  it('a gzip body to a service that accepts only lz4 is refused before it is inflated', async () => {
    const inflated = Buffer.alloc(8 * MiB - 1024, 0x80);
    inflated[0] = 0xdd;
    inflated.writeUInt32BE(inflated.length - 5, 1);
    const bomb = gzipSync(inflated, { level: 9 });
    const small = gzipSync(Buffer.from(msgpack.serialize(['hello'])));
    const client = await RawClient.connect(provider.port);
    try {
      const replies = await underAttack(async () => {
        await client.send(request(1, 'attack.Lz4Sink', 'echo', small, 1));
        for (let id = 2; id <= 21; id++) await client.send(request(id, 'attack.Lz4Sink', 'hold', bomb, 1));
        return { replies: Promise.all(Array.from({ length: 21 }, (_, i) => client.reply(i + 1))) };
      });
      for (const r of replies) {
        expect(r.status).toBe(Status.SERIALIZATION_ERROR);
        expect(r.reason).toBe('PLEXUS_ERR_PROTOCOL_COMPRESSOR_REFUSED');
        expect(r.message).toMatch(/does not accept request bodies compressed with gzip; it accepts identity, lz4/);
      }
    } finally {
      client.close();
    }
  }, 60_000);

  it('responses are compressed only with a compressor the service is configured with', async () => {
    const big = msgpack.serialize(['plexus '.repeat(10_000)]);
    const client = await RawClient.connect(provider.port);
    try {
      // asks for gzip responses: the gzip service obliges, the lz4-only one answers plain
      await client.send(request(1, 'attack.GzipSink', 'echo', big, 0, 1));
      await client.send(request(2, 'attack.Lz4Sink', 'echo', big, 0, 1));
      await client.send(request(3, 'attack.Lz4Sink', 'echo', big, 0, 2));
      const [gz, plain, lz4] = await Promise.all([client.reply(1), client.reply(2), client.reply(3)]);
      expect([gz.status, gz.compressorId]).toEqual([Status.OK, 1]);
      expect([plain.status, plain.compressorId]).toEqual([Status.OK, 0]);
      expect([lz4.status, lz4.compressorId]).toEqual([Status.OK, 2]);
    } finally {
      client.close();
    }
  }, 30_000);

  it('a call to a method that does not exist is refused before its body is decoded', async () => {
    // A body the decoder would refuse: the reply says METHOD_NOT_FOUND, so the body was never read.
    const client = await RawClient.connect(provider.port);
    try {
      await client.send(request(1, 'attack.GzipSink', 'noSuchMethod', Uint8Array.of(0xdd, 0x02, 0x00, 0x00, 0x00, 0xc0)));
      const r = await client.reply(1);
      expect(r.status).toBe(Status.METHOD_NOT_FOUND);
      expect(r.message).toMatch(/has no method "noSuchMethod"/);
    } finally {
      client.close();
    }
  }, 30_000);
});

describe('hostile response bodies against a real consumer (bounded decoding on the consumer side)', () => {
  /** A "provider" that answers every request with `body` as a successful msgpack response. */
  function maliciousProvider(body: Uint8Array): Promise<net.Server> {
    const server = net.createServer((socket) => {
      const sink: FrameSink = {
        onFrame: (d) => {
          if (d.flags & (Flag.EVENT | Flag.RESPONSE)) return;
          socket.write(encodeResponse(d.id, Status.OK, 2, 0, undefined, body, responseHeaderSize(0, undefined)));
        },
        onOversize: () => undefined,
        onGarbage: () => socket.destroy(),
      };
      const decoder = new FrameDecoder(8 * MiB, sink);
      socket.on('data', (chunk: Buffer) => decoder.push(chunk));
      socket.on('error', () => undefined);
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
  }

  it.each([
    ['a 6-byte body declaring an array of 2^25 items', Uint8Array.of(0xdd, 0x02, 0x00, 0x00, 0x00, 0xc0), /declares 33554432 items/],
    ['2 MiB of {} tokens (2 M objects)', (() => {
      const b = Buffer.alloc(2 * MiB + 5, 0x80);
      b[0] = 0xdd;
      b.writeUInt32BE(2 * MiB, 1);
      return b;
    })(), /maxElements/],
  ])('%s is refused quickly, without building it (x5)', async (_label, body, message) => {
    const server = await maliciousProvider(body);
    const port = (server.address() as net.AddressInfo).port;
    const consumer = Plexus.create({
      application: { name: 'attack-decode-consumer' },
      references: { victim: { interface: 'attack.Any', version: '1.0.0', url: `plexus://127.0.0.1:${port}`, timeout: 5000, retries: 0, check: false } },
    });
    try {
      await consumer.start();
      const ref = consumer.reference<{ get(): Promise<unknown> }>('victim');
      const heapBefore = process.memoryUsage().heapUsed;
      const started = Date.now();
      // five calls in a row: the unchecked decoder spent ~300 ms on each 6-byte body
      for (let i = 0; i < 5; i++) {
        const err = (await ref.get().then(
          () => undefined,
          (e: unknown) => e,
        )) as { code?: string; message?: string } | undefined;
        expect(err?.message).toMatch(message);
        expect(err?.code).toBe('BAD_RESPONSE');
      }
      expect(Date.now() - started).toBeLessThan(1000);
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * MiB);
    } finally {
      await consumer.stop();
      server.close();
    }
  }, 30_000);
});

import * as net from 'node:net';
import * as path from 'node:path';
import { Plexus } from '@plexus/kernel';
import { seededRandom as prng } from '@plexus/kernel/testing';
import { FrameDecoder, encodeRequest, encodeRoute, requestHeaderSize, type FrameSink } from '@plexus/protocol-plexus';
import { MsgpackSerializer } from '@plexus/serializer-msgpack';
import { FIXTURES, startProvider, type ProviderProcess } from '../e2e/helpers';

/**
 * Bounded, seeded fuzzing of the plexus wire format: mutated valid requests sent to a real
 * provider process, and random byte streams cut at random points fed to the frame decoder.
 * A failure prints the seed; rerun with PLEXUS_FUZZ_SEED to reproduce.
 */
const SEED = Number(process.env.PLEXUS_FUZZ_SEED ?? Date.now() % 1_000_000);

function validRequest(id: number): Buffer {
  const route = encodeRoute('e2e.KitchenSink:1.0.0', 'echo');
  const body = new MsgpackSerializer().serialize([{ id, text: 'fuzz', list: [1, 2, 3] }]);
  const attachments = { trace: 'abc' };
  const headerLength = requestHeaderSize(route, 0, 0, 1000, attachments);
  return encodeRequest(id, false, route, 2, 0, 0, 1000, attachments, body, headerLength);
}

function mutate(frame: Buffer, rnd: () => number): Buffer {
  const out = Buffer.from(frame);
  const edits = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < edits; i++) {
    const kind = rnd();
    const at = Math.floor(rnd() * out.length);
    if (kind < 0.6) out[at] = Math.floor(rnd() * 256);
    else if (kind < 0.8) out[at] ^= 1 << Math.floor(rnd() * 8);
    else out.writeUInt32BE(Math.floor(rnd() * 0xffffffff), Math.min(at, out.length - 4));
  }
  return out;
}

/** Sends bytes on a fresh connection, waits briefly, and returns how the connection ended. */
function sendOnce(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 100);
    socket.on('error', done);
    socket.on('close', done);
    socket.resume();
  });
}

describe(`plexus wire fuzzing (seed ${SEED})`, () => {
  let provider: ProviderProcess;
  let app: Plexus;

  beforeAll(async () => {
    provider = await startProvider(path.join(FIXTURES, 'provider.yaml'), ['--expose-gc']);
    app = Plexus.create({
      references: { sink: { interface: 'e2e.KitchenSink', version: '1.0.0', url: `plexus://127.0.0.1:${provider.port}`, timeout: 5000 } },
    });
  });

  afterAll(async () => {
    await app.stop();
    if (provider.child.exitCode === null) provider.child.kill('SIGKILL');
  });

  it('survives 300 mutated requests, keeps serving, and keeps its memory', async () => {
    const sink = app.reference<{ echo<T>(v: T): T; memory(): NodeJS.MemoryUsage }>('sink');
    const rnd = prng(SEED);
    const before = await sink.memory();
    for (let batch = 0; batch < 30; batch++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => sendOnce(provider.port, mutate(validRequest(batch * 10 + i + 1), rnd))));
      await expect(sink.echo(batch)).resolves.toBe(batch);
    }
    const after = await sink.memory();
    expect(provider.child.exitCode).toBeNull();
    expect(after.heapUsed - before.heapUsed).toBeLessThan(16 * 1024 * 1024);
  }, 60_000);

  it('the frame decoder never throws and never reports more bytes than it was given', () => {
    const rnd = prng(SEED + 1);
    for (let round = 0; round < 500; round++) {
      let given = 0;
      let reported = 0;
      const sink: FrameSink = {
        onFrame: (d) => {
          reported += 24 + d.headerLength + d.bodyLength;
        },
        onOversize: () => undefined,
        onGarbage: () => undefined,
      };
      const decoder = new FrameDecoder(64 * 1024, sink);
      // A stream of valid frames, mutated ones and noise, cut at random points.
      const pieces: Buffer[] = [];
      for (let i = 0; i < 5; i++) {
        const r = rnd();
        const frame = validRequest(i + 1);
        pieces.push(r < 0.4 ? frame : r < 0.8 ? mutate(frame, rnd) : Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))));
      }
      const stream = Buffer.concat(pieces);
      let at = 0;
      while (at < stream.length) {
        const n = 1 + Math.floor(rnd() * 64);
        const chunk = stream.subarray(at, at + n);
        given += chunk.length;
        expect(() => decoder.push(chunk)).not.toThrow();
        at += n;
      }
      expect(reported).toBeLessThanOrEqual(given);
    }
  });
});

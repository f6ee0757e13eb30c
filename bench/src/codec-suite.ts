/**
 * The codec suite: serializers (msgpack, json) and compressors (lz4, snappy, gzip and a no-op
 * baseline) on fixed payloads of about 100 B, 10 KiB and 1 MiB, in this process, one after the
 * other. Payloads are generated deterministically, so runs compare across machines and commits.
 */
import { isDeepStrictEqual } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { Compressor, Serializer } from '@plexus/kernel/spi';
import { MsgpackSerializer } from '@plexus/serializer-msgpack';
import { JsonSerializer } from '@plexus/serializer-json';
import { Lz4Compressor } from '@plexus/compressor-lz4';
import { SnappyCompressor } from '@plexus/compressor-snappy';
import { GzipCompressor } from '@plexus/compressor-gzip';

/** Throughput of one direction (encode or decode) of one codec on one payload. */
export interface CodecRate {
  /** Operations per second, from the median of ~1 ms batches. */
  opsPerSec: number;
  /** Megabytes (10^6 bytes) per second, of the size named in {@link CodecResult}. */
  mbPerSec: number;
  /** Operations timed. */
  ops: number;
  /** Milliseconds timed (wall clock, including time the process was descheduled). */
  ms: number;
}

/** One codec on one payload. */
export interface CodecResult {
  kind: 'serializer' | 'compressor';
  codec: string;
  /** `100 B`, `10 KiB` or `1 MiB`. */
  payload: string;
  /**
   * Compressors: uncompressed size. Serializers: the value's size as JSON, the common yardstick.
   */
  inputBytes: number;
  /** Encoded (serialized or compressed) size. */
  outputBytes: number;
  /** `inputBytes / outputBytes`: compression ratio, or how much smaller than JSON a serializer is. */
  ratio: number;
  /** serialize / compress. MB/s counts compressors' input bytes and serializers' output bytes. */
  encode: CodecRate;
  /** deserialize / decompress, counted in the same bytes as `encode`. */
  decode: CodecRate;
}

/** Options of {@link runCodecSuite}. */
export interface CodecSuiteOptions {
  /** About 3 s instead of about 20 s: shorter timing windows, same payloads. */
  quick?: boolean;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const PAYLOADS: ReadonlyArray<readonly [string, number]> = [
  ['100 B', 100],
  ['10 KiB', 10 * KIB],
  ['1 MiB', MIB],
];

/** Timing window per measurement, and the warm-up before it, in ms. */
const FULL = { windowMs: 380, warmupMs: 80 };
const QUICK = { windowMs: 55, warmupMs: 15 };

/** Keeps results observable so the optimiser cannot drop the work being timed. */
let sink = 0;

/**
 * Runs the codec suite: each serializer and compressor, each payload, encode then decode.
 * Checks every round trip once before timing it (a codec that loses data is an error, not a
 * fast result). Yields to the event loop between measurements.
 */
export async function runCodecSuite(opts: CodecSuiteOptions = {}): Promise<CodecResult[]> {
  const timing = opts.quick ? QUICK : FULL;
  const results: CodecResult[] = [];

  const serializers: Serializer[] = [new MsgpackSerializer(), new JsonSerializer()];
  for (const [label, target] of PAYLOADS) {
    const value = recordsOfJsonSize(target);
    const jsonBytes = Buffer.byteLength(JSON.stringify(value));
    for (const serializer of serializers) {
      const encoded = serializer.serialize(value);
      if (!isDeepStrictEqual(serializer.deserialize(encoded), value)) {
        throw new Error(`codec suite: ${serializer.name} does not round-trip the ${label} payload`);
      }
      const encode = measure(() => serializer.serialize(value).length, timing);
      await yieldToLoop();
      const decode = measure(() => (serializer.deserialize(encoded) === undefined ? 0 : 1), timing);
      await yieldToLoop();
      results.push({
        kind: 'serializer',
        codec: serializer.name,
        payload: label,
        inputBytes: jsonBytes,
        outputBytes: encoded.length,
        ratio: jsonBytes / encoded.length,
        encode: rate(encode, encoded.length),
        decode: rate(decode, encoded.length),
      });
    }
  }

  const compressors: Compressor[] = [NOOP, new Lz4Compressor(), new SnappyCompressor(), new GzipCompressor()];
  const corpus = mixedCorpus(MIB);
  for (const [label, size] of PAYLOADS) {
    const input = corpus.subarray(0, size);
    for (const compressor of compressors) {
      const packed = compressor.compress(input);
      const unpacked = compressor.decompress(packed, size);
      if (!Buffer.from(unpacked.buffer, unpacked.byteOffset, unpacked.byteLength).equals(input)) {
        throw new Error(`codec suite: ${compressor.name} does not round-trip the ${label} payload`);
      }
      const encode = measure(() => compressor.compress(input).length, timing);
      await yieldToLoop();
      const decode = measure(() => compressor.decompress(packed, size).length, timing);
      await yieldToLoop();
      results.push({
        kind: 'compressor',
        codec: compressor.name,
        payload: label,
        inputBytes: size,
        outputBytes: packed.length,
        ratio: size / packed.length,
        encode: rate(encode, size),
        decode: rate(decode, size),
      });
    }
  }
  if (sink === -1) console.log(sink);
  return results;
}

/** A pass-through, to show what the harness itself costs. */
const NOOP: Compressor = {
  id: 0,
  name: 'none',
  compress: (bytes) => bytes,
  decompress: (bytes) => bytes,
};

interface Timed {
  /** Operations per second: one batch's size over the median batch time. */
  opsPerSec: number;
  ops: number;
  ms: number;
}

/** Warm-up calls wanted before timing, when they fit in three warm-up windows. */
const WARMUP_OPS = 2000;
/** At least this many timed batches, however slow the operation. */
const MIN_BATCHES = 3;

/**
 * Warms `op` up, then runs it in batches of about a millisecond until the window is spent, so
 * reading the clock does not weigh on operations that take a fraction of a microsecond. The rate
 * comes from the median batch: on a shared machine a batch that lost the CPU to another process
 * counts once, not in proportion to how long it was descheduled.
 */
function measure(op: () => number, timing: { windowMs: number; warmupMs: number }): Timed {
  // Warm-up by time and by count: on a loaded machine the window alone may hold too few calls
  // for the JIT to finish with the codec.
  let ops = 0;
  let start = performance.now();
  let warm = 0;
  do {
    sink += op();
    ops++;
    warm = performance.now() - start;
  } while (warm < timing.warmupMs || (ops < WARMUP_OPS && warm < 3 * timing.warmupMs));
  const perOpMs = warm / ops;
  const batch = Math.max(1, Math.floor(1 / perOpMs));

  const durations: number[] = [];
  start = performance.now();
  let last = start;
  do {
    for (let i = 0; i < batch; i++) sink += op();
    const now = performance.now();
    durations.push(now - last);
    last = now;
  } while (last - start < timing.windowMs || durations.length < MIN_BATCHES);
  durations.sort((a, b) => a - b);
  const median = durations[durations.length >> 1];
  return { opsPerSec: (batch * 1000) / median, ops: batch * durations.length, ms: last - start };
}

function rate(t: Timed, bytesPerOp: number): CodecRate {
  return { opsPerSec: t.opsPerSec, mbPerSec: (t.opsPerSec * bytesPerOp) / 1e6, ops: t.ops, ms: t.ms };
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A deterministic pseudo-random stream (xorshift32). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const FIRST = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'donald', 'linus', 'margaret', 'ken', 'dennis'];
const LAST = ['lovelace', 'hopper', 'turing', 'dijkstra', 'liskov', 'knuth', 'torvalds', 'hamilton', 'thompson', 'ritchie'];
const CITIES = ['Berlin', 'Lisbon', 'Osaka', 'Toronto', 'Nairobi', 'Montevideo', 'Tallinn', 'Hangzhou'];
const TAGS = ['admin', 'ops', 'beta', 'billing', 'support', 'eu', 'us', 'apac', 'vip', 'trial'];

/** One realistic record: a user/order-like object with strings, numbers, booleans and nesting. */
function record(i: number, next: () => number): Record<string, unknown> {
  const first = FIRST[next() % FIRST.length];
  const last = LAST[next() % LAST.length];
  return {
    id: 100_000 + i,
    uuid: `${(next() >>> 0).toString(16).padStart(8, '0')}-${(next() & 0xffff).toString(16).padStart(4, '0')}-4${(next() & 0xfff).toString(16).padStart(3, '0')}`,
    name: `${first} ${last}`,
    email: `${first}.${last}${i}@example.com`,
    active: next() % 3 !== 0,
    balance: Math.round((next() % 10_000_000) / 7) / 100,
    visits: next() % 5000,
    tags: [TAGS[next() % TAGS.length], TAGS[next() % TAGS.length]],
    createdAt: new Date(1_600_000_000_000 + (next() % 100_000_000) * 1000).toISOString(),
    address: { street: `${next() % 300} Main Street`, city: CITIES[next() % CITIES.length], zip: String(10_000 + (next() % 89_999)) },
  };
}

/**
 * A value whose JSON is about `target` bytes: a small call-like object for tiny targets, else an
 * envelope holding as many records as fit.
 */
function recordsOfJsonSize(target: number): unknown {
  const next = prng(0xc0dec);
  if (target <= 256) {
    return { service: 'demo.Greeter', method: 'sayHello', args: ['ada', 42, true], attachments: { trace: 'a1b2c3d4' } };
  }
  const items: unknown[] = [];
  const envelope = { page: 1, total: 0, items };
  let size = 30;
  for (let i = 0; size < target; i++) {
    const r = record(i, next);
    const s = JSON.stringify(r).length + 1;
    if (size + s > target && items.length > 0) break;
    items.push(r);
    size += s;
  }
  envelope.total = items.length;
  return envelope;
}

/**
 * Bytes as RPC bodies carry them: mostly JSON-ish text, with a stretch of random binary (hashes,
 * blobs) every few KiB. Any prefix of it is a payload.
 */
function mixedCorpus(size: number): Buffer {
  const out = Buffer.alloc(size);
  const next = prng(0x5eed);
  let pos = 0;
  let i = 0;
  while (pos < size) {
    const text = Buffer.from(JSON.stringify(Array.from({ length: 12 }, () => record(i++, next))));
    pos += text.copy(out, pos);
    const binary = 256 + (next() % 768);
    for (let k = 0; k < binary && pos < size; k++) out[pos++] = next() & 0xff;
  }
  return out;
}

/**
 * The results as two printable tables, serializers then compressors, with a line that says what
 * the ratio and MB/s columns count.
 */
export function formatCodecTable(results: readonly CodecResult[]): string {
  const sections: string[] = [];
  const serializers = results.filter((r) => r.kind === 'serializer');
  const compressors = results.filter((r) => r.kind === 'compressor');
  if (serializers.length > 0) {
    sections.push(
      `Serializers (size = encoded bytes; ratio = JSON size / encoded size; MB/s of encoded bytes)\n${table(serializers)}`,
    );
  }
  if (compressors.length > 0) {
    sections.push(
      `Compressors (size = input -> output bytes; ratio = input / output; MB/s of uncompressed bytes; none = no-op baseline)\n${table(compressors)}`,
    );
  }
  return sections.join('\n\n');
}

function table(rows: readonly CodecResult[]): string {
  const header = ['codec', 'payload', 'size', 'ratio', 'encode ops/s', 'encode MB/s', 'decode ops/s', 'decode MB/s'];
  const body = rows.map((r) => [
    r.codec,
    r.payload,
    r.kind === 'compressor' ? `${r.inputBytes} -> ${r.outputBytes}` : String(r.outputBytes),
    `${r.ratio.toFixed(2)}x`,
    formatOps(r.encode.opsPerSec),
    formatMb(r.encode.mbPerSec),
    formatOps(r.decode.opsPerSec),
    formatMb(r.decode.mbPerSec),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  // Text columns align left, numbers right.
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function formatOps(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function formatMb(n: number): string {
  return n >= 100_000 ? n.toExponential(1) : n.toFixed(1);
}

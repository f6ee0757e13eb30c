/**
 * The streaming measurement: one stream of `items` small items (a ~30-byte msgpack tick) from a
 * server process to this process, over the plexus protocol (an `async *` provider method, read
 * with `for await` through a `stream: true` reference) and over the raw peer's framing with
 * msgpack items and the same coalescing (the floor). Peers alternate within each round; the
 * report gives medians of items/s and the consumer's CPU per item, and the ratio plexus/raw.
 */
import net from 'node:net';
import path from 'node:path';
import { Plexus } from '@plexus/kernel';
import { canPin, pin } from './affinity';
import { PeerProcess } from './peer-process';
import { standardPackr } from './payload';
import { FRAME_HEADER, FrameParser } from './peers/raw-frames';
import { STREAM_SERVICE, type StreamItem } from './peers/stream-item';

/** Target of the brief: plexus streaming at least this share of the raw floor's items/s. */
export const STREAM_TARGET = 0.7;
export const STREAM_PEERS = ['plexus', 'raw-msgpack'] as const;
/** Unmeasured streams per peer before the measured rounds. */
const WARMUP_STREAMS = 2;
export type StreamPeer = (typeof STREAM_PEERS)[number];

export interface StreamBenchOptions {
  /** Items per stream (default 100,000). */
  items: number;
  /** Measured streams per peer, alternating (default 3). */
  rounds: number;
  /** Pin the server to CPU 1 and this process to CPU 0 (when taskset works). */
  pin: boolean;
  verbose: boolean;
  log(line: string): void;
}

export interface StreamRun {
  peer: StreamPeer;
  round: number;
  items: number;
  elapsedMs: number;
  itemsPerSec: number;
  /** CPU of this (consuming) process per item, in µs. */
  clientCpuUsPerItem: number;
  /** CPU of the server process per item, in µs. */
  serverCpuUsPerItem: number;
}

export interface StreamSummary {
  peer: StreamPeer;
  itemsPerSec: number;
  clientCpuUsPerItem: number;
  serverCpuUsPerItem: number;
}

export interface StreamBenchResult {
  options: { items: number; rounds: number; pinned: boolean };
  loadAvg: number[];
  runs: StreamRun[];
  summary: StreamSummary[];
  /** plexus items/s over raw-msgpack items/s (medians). */
  ratio: number;
  target: number;
}

/** One consumer of one peer's stream. */
interface StreamReader {
  read(n: number): Promise<number>;
  close(): Promise<void>;
}

async function plexusReader(port: number): Promise<StreamReader> {
  const app = Plexus.create({
    application: { name: 'bench-stream-client', handleSignals: false },
    logLevel: 'warn',
    references: {
      ticks: { ...STREAM_SERVICE, url: `plexus://127.0.0.1:${port}`, serializer: 'msgpack', timeout: 0, retries: 0, methods: { items: { stream: true } } },
    },
  });
  await app.start();
  const ticks = app.reference<{ items(n: number): AsyncIterable<StreamItem> }>('ticks');
  return {
    async read(n) {
      let count = 0;
      for await (const item of ticks.items(n)) {
        if (item.seq !== count) throw new Error(`plexus stream: item ${count} expected, got ${item.seq}`);
        count++;
      }
      return count;
    },
    close: () => app.stop(),
  };
}

async function rawReader(port: number): Promise<StreamReader> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let nextId = 1;
  let waiting: { id: number; count: number; resolve(n: number): void; reject(e: Error): void } | undefined;
  const parser = new FrameParser((id, buf, start, end) => {
    const w = waiting;
    if (w === undefined || id !== w.id) return;
    if (end === start) {
      waiting = undefined;
      w.resolve(w.count);
      return;
    }
    const item = standardPackr.unpack(buf.subarray(start, end)) as StreamItem;
    if (item.seq !== w.count) {
      waiting = undefined;
      w.reject(new Error(`raw stream: item ${w.count} expected, got ${item.seq}`));
      return;
    }
    w.count++;
  });
  socket.on('data', (chunk: Buffer) => parser.push(chunk));
  return {
    read(n) {
      const id = nextId++;
      const body = standardPackr.pack(n);
      const frame = Buffer.allocUnsafe(FRAME_HEADER + body.length);
      frame.writeUInt32BE(4 + body.length, 0);
      frame.writeUInt32BE(id, 4);
      body.copy(frame, FRAME_HEADER);
      return new Promise<number>((resolve, reject) => {
        waiting = { id, count: 0, resolve, reject };
        socket.write(frame);
      });
    },
    close: async () => {
      socket.destroy();
    },
  };
}

const SCRIPTS: Record<StreamPeer, string> = { plexus: 'stream-plexus-server', 'raw-msgpack': 'stream-raw-server' };

interface StartedPeer {
  peer: StreamPeer;
  server: PeerProcess;
  reader: StreamReader;
}

async function startPeer(peer: StreamPeer, options: StreamBenchOptions): Promise<StartedPeer> {
  const server = new PeerProcess(`${peer}-stream-server`, path.join(__dirname, 'peers', `${SCRIPTS[peer]}.js`), {}, options.verbose);
  try {
    const ready = await server.next('ready', 30_000);
    if (options.pin && server.pid !== undefined) pin(server.pid, 1);
    const reader = peer === 'plexus' ? await plexusReader(ready.port!) : await rawReader(ready.port!);
    return { peer, server, reader };
  } catch (err) {
    server.kill();
    throw err;
  }
}

async function measure(p: StartedPeer, items: number, round: number): Promise<StreamRun> {
  p.server.send({ type: 'cpu-start' });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const got = await p.reader.read(items);
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  p.server.send({ type: 'cpu-stop' });
  const serverCpu = (await p.server.next('cpu', 10_000)).cpu;
  if (got !== items) throw new Error(`${p.peer}: ${got} items read, ${items} expected`);
  return {
    peer: p.peer,
    round,
    items,
    elapsedMs,
    itemsPerSec: (items * 1000) / elapsedMs,
    clientCpuUsPerItem: (cpu.user + cpu.system) / items,
    serverCpuUsPerItem: (serverCpu.user + serverCpu.system) / items,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs the streaming measurement; every server process it started is stopped (or killed by PID). */
export async function runStreamBench(options: StreamBenchOptions): Promise<StreamBenchResult> {
  const pinned = options.pin && canPin();
  if (pinned && process.pid !== undefined) pin(process.pid, 0);
  const started: StartedPeer[] = [];
  const runs: StreamRun[] = [];
  try {
    for (const peer of STREAM_PEERS) started.push(await startPeer(peer, { ...options, pin: pinned }));
    // Unmeasured streams, the same for every peer: connection setup and JIT warmup. Two streams of
    // the measured length: code that runs per item is optimized within a few thousand items, but
    // code that runs per frame or per batch (hundreds of times per stream) only after a stream or
    // two; with one 20,000-item stream the first measured round of either peer ran 30-45 % slower.
    for (const p of started) for (let i = 0; i < WARMUP_STREAMS; i++) await p.reader.read(options.items);
    for (let round = 1; round <= options.rounds; round++) {
      for (const p of round % 2 === 1 ? started : [...started].reverse()) {
        const run = await measure(p, options.items, round);
        runs.push(run);
        options.log(`  stream ${p.peer.padEnd(12)} round ${round}: ${Math.round(run.itemsPerSec).toLocaleString('en-US')} items/s`);
      }
    }
  } finally {
    for (const p of started) {
      await p.reader.close().catch(() => undefined);
      await p.server.stop();
    }
  }
  const summary = STREAM_PEERS.map((peer) => {
    const mine = runs.filter((r) => r.peer === peer);
    return {
      peer,
      itemsPerSec: median(mine.map((r) => r.itemsPerSec)),
      clientCpuUsPerItem: median(mine.map((r) => r.clientCpuUsPerItem)),
      serverCpuUsPerItem: median(mine.map((r) => r.serverCpuUsPerItem)),
    };
  });
  const [plexus, raw] = summary;
  return {
    options: { items: options.items, rounds: options.rounds, pinned },
    loadAvg: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
    runs,
    summary,
    ratio: plexus.itemsPerSec / raw.itemsPerSec,
    target: STREAM_TARGET,
  };
}

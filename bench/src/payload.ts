/**
 * The payloads every peer carries, so the comparison measures the frameworks and not the data:
 * a small typical RPC argument object (the default) and a 64 KiB binary body (`--payload 64k`).
 */
import { Packr } from 'msgpackr';

/** Shape of the default benchmark payload: a small, typical RPC argument object. */
export interface BenchPayload {
  id: number;
  name: string;
  tags: string[];
  ts: number;
  flag: boolean;
  data: string;
}

/** Which payload a run carries: `small` (default) or `64k`. */
export type PayloadKind = 'small' | '64k';

/** Payload kinds accepted on the command line. */
export const PAYLOAD_KINDS: readonly PayloadKind[] = ['small', '64k'];

/** Size of the large payload's body: 64 KiB of binary. */
export const LARGE_PAYLOAD_BYTES = 64 * 1024;

/** The small payload's `id`, which {@link isEcho} checks. */
const SMALL_ID = 123;

/** The benchmark payload: about 100 bytes as MessagePack, about 130 as JSON. */
export function benchPayload(): BenchPayload {
  return { id: SMALL_ID, name: 'plexus-bench', tags: ['a', 'b', 'c'], ts: 1_700_000_000_000, flag: true, data: 'x'.repeat(40) };
}

/**
 * The large payload: one `Buffer` of {@link LARGE_PAYLOAD_BYTES} pseudo-random bytes, the same
 * in every process (fixed seed). Random so that no compressor on the path can shrink it, and a
 * single `bin` value so that every msgpack encoder on the path writes the same bytes for it
 * (`c6` + u32 length + the data: 65,541 bytes), whatever its options for maps or records.
 */
export function largePayload(): Buffer {
  const out = Buffer.allocUnsafe(LARGE_PAYLOAD_BYTES);
  // xorshift32: deterministic, dependency-free, and good enough to defeat compression.
  let x = 0x9e3779b9;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x | 0, i);
  }
  return out;
}

/** The value a peer sends for `kind` (default `small`). */
export function benchValue(kind: PayloadKind | undefined): BenchPayload | Buffer {
  return kind === '64k' ? largePayload() : benchPayload();
}

/**
 * Whether `reply` is a correct echo of the `kind` payload, checked cheaply enough to run on every
 * call (the `id` of the object; the length of the binary body).
 */
export function isEcho(kind: PayloadKind | undefined, reply: unknown): boolean {
  if (kind === '64k') return reply instanceof Uint8Array && reply.length === LARGE_PAYLOAD_BYTES;
  return typeof reply === 'object' && reply !== null && (reply as { id?: unknown }).id === SMALL_ID;
}

/**
 * Standard MessagePack (no msgpackr records extension), as the grpc peer puts it on the wire
 * and as the raw peer's frames carry it.
 */
export const standardPackr = new Packr({ useRecords: false });

/**
 * Encoded sizes of the payload in each format the peers use, for the report. The 64 KiB body has
 * no JSON size: no peer carries it as JSON (see {@link PeerSpec.largePayload}).
 */
export function payloadSizes(kind: PayloadKind = 'small'): { kind: PayloadKind; msgpack: number; json?: number } {
  const p = benchValue(kind);
  if (kind === '64k') return { kind, msgpack: standardPackr.pack(p).length };
  return { kind, msgpack: standardPackr.pack(p).length, json: Buffer.byteLength(JSON.stringify(p)) };
}

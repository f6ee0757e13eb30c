/**
 * The one payload every peer carries, so the comparison measures the frameworks and not the data.
 */
import { Packr } from 'msgpackr';

/** Shape of the benchmark payload: a small, typical RPC argument object. */
export interface BenchPayload {
  id: number;
  name: string;
  tags: string[];
  ts: number;
  flag: boolean;
  data: string;
}

/** The benchmark payload: about 100 bytes as MessagePack, about 130 as JSON. */
export function benchPayload(): BenchPayload {
  return { id: 123, name: 'plexus-bench', tags: ['a', 'b', 'c'], ts: 1_700_000_000_000, flag: true, data: 'x'.repeat(40) };
}

/**
 * Standard MessagePack (no msgpackr records extension), as the grpc peer puts it on the wire
 * and as the raw peer's frames carry it.
 */
export const standardPackr = new Packr({ useRecords: false });

/** Encoded sizes of the payload in each format the peers use, for the report. */
export function payloadSizes(): { msgpack: number; json: number } {
  const p = benchPayload();
  return { msgpack: standardPackr.pack(p).length, json: Buffer.byteLength(JSON.stringify(p)) };
}

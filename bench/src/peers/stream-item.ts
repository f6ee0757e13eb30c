/**
 * The item both streaming peers send: a small market tick, about 30 bytes in msgpack. Kept in one
 * place so the plexus peer and the raw peer stream the same values.
 */
export interface StreamItem {
  seq: number;
  symbol: string;
  price: number;
}

/** Item number `seq`. */
export function streamItem(seq: number): StreamItem {
  return { seq, symbol: 'ACME', price: 101.25 };
}

/** The service the plexus streaming peer exports. */
export const STREAM_SERVICE = { interface: 'bench.Ticks', version: '1.0.0' } as const;

import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE, type Options as PackrOptions } from 'msgpackr';
import {
  DECODE_LIMITS_SCHEMA,
  decodeLimitError,
  definePlugin,
  resolveDecodeLimits,
  RpcCode,
  RpcError,
  type DecodeLimits,
  type EncodedRange,
  type Serializer,
} from '@plexus/kernel/spi';
import { MAX_BIGINT_BYTES, scanFault, scanMsgpack, ScanResult } from './msgpack-scan';

/**
 * Options of {@link MsgpackSerializer}; all optional. `maxDepth` and `maxElements` (see
 * `DecodeLimits` in `@plexus/kernel/spi`: defaults 100 and 1 000 000) bound what one received
 * body may build.
 */
export interface MsgpackSerializerOptions extends DecodeLimits {
  /**
   * Encode `Set`, `Error`, `RegExp` and typed arrays other than `Uint8Array`/`Buffer` with
   * msgpackr's extensions so they come back as themselves. Default `true`: Plexus peers are
   * JavaScript. Set `false` when a non-JS msgpack decoder must read every body.
   */
  moreTypes?: boolean;
  /**
   * How 64-bit integers on the wire decode: `bigint` (default, so a `bigint` argument comes back
   * as a `bigint`), `number` (may lose precision above 2^53), `auto` (number when safe) or `string`.
   */
  int64AsType?: 'bigint' | 'number' | 'auto' | 'string';
  /**
   * Copy decoded binary values out of the received message. Default `false`: a decoded `Buffer` is
   * a view into the received bytes, which is fastest. Set `true` when a transport reuses its receive
   * buffers, or when small decoded binaries are kept for long: a view keeps alive what it was read
   * from (a body decoded in place with `deserializeRange`: the whole buffer it lies in).
   */
  copyBuffers?: boolean;
}

/** JSON schema of {@link MsgpackSerializerOptions}, checked by the loader. */
export const MSGPACK_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...DECODE_LIMITS_SCHEMA,
    moreTypes: { type: 'boolean', default: true },
    int64AsType: { enum: ['bigint', 'number', 'auto', 'string'], default: 'bigint' },
    copyBuffers: { type: 'boolean', default: false },
  },
} as const;

/**
 * MessagePack serializer on msgpackr (native string extraction when `msgpackr-extract` loads).
 *
 * Every message is self-contained: records/shared structures are off, so a peer decodes any body
 * without having seen earlier ones. Dates travel as the standard timestamp extension, binary as
 * `bin` (decoded as `Buffer`), `bigint` as int64 (or msgpackr's big-integer extension beyond 64
 * bits), `Map` as a plain msgpack map (decoded as an object), `undefined` as itself.
 *
 * Safety: msgpackr renames a decoded `__proto__` key to `__proto_`, so no body can replace a
 * prototype; structured-clone references are refused, so a body cannot build cycles. Before
 * msgpackr sees a body, a linear pre-scan (`msgpack-scan.ts`, no allocation) checks every declared
 * length against the bytes present and enforces `maxDepth` / `maxElements`; msgpackr itself trusts
 * length prefixes. The scan costs about 10 % of decoding a small body.
 *
 * Scope: one instance per application, shared by all connections. One `Packr` is reused; msgpackr
 * saves and restores its state on re-entrant calls, and every returned buffer stays valid after
 * later calls.
 */
export class MsgpackSerializer implements Serializer {
  readonly id = 2;
  readonly name = 'msgpack';
  private readonly packrOptions: PackrOptions;
  private readonly packr: Packr;
  private readonly maxDepth: number;
  private readonly maxElements: number;
  /** For objects of more than 65535 keys, which the fixed map16 header of `packr` cannot hold. */
  private widePackr?: Packr;
  /** What `serializeScratch` returns, reused. */
  private readonly scratch: { bytes: Uint8Array; start: number; end: number } = { bytes: new Uint8Array(0), start: 0, end: 0 };
  /** msgpackr's range option for `unpack`, reused (an empty range would read as "to the end": never passed). */
  private readonly range = { start: 0, end: 0 };

  constructor(options: MsgpackSerializerOptions = {}) {
    this.packrOptions = {
      useRecords: false,
      mapsAsObjects: true,
      structuredClone: false,
      moreTypes: options.moreTypes ?? true,
      // msgpackr's typings omit 'auto', which its decoder supports.
      int64AsType: (options.int64AsType ?? 'bigint') as PackrOptions['int64AsType'],
      copyBuffers: options.copyBuffers ?? false,
    };
    this.packr = new Packr(this.packrOptions);
    const limits = resolveDecodeLimits(options);
    this.maxDepth = limits.maxDepth;
    this.maxElements = limits.maxElements;
  }

  serialize(value: unknown): Uint8Array {
    try {
      return this.packr.pack(value);
    } catch (err) {
      // Sizing every map header costs 5-10 % on each call; only the rare huge object pays for it.
      if (messageOf(err).includes('variableMapSize')) return this.serializeWide(value);
      throw encodeError(err);
    }
  }

  private serializeWide(value: unknown): Uint8Array {
    this.widePackr ??= new Packr({ ...this.packrOptions, variableMapSize: true });
    try {
      return this.widePackr.pack(value);
    } catch (err) {
      throw encodeError(err);
    }
  }

  /**
   * `serialize` without the view msgpackr would make for the result: its output buffer and where
   * the bytes lie in it (msgpackr's reuse mode), rewound after each call (reset mode), so the next
   * scratch call writes over the same bytes while they are hot in the cache. The rewind never
   * reaches below output `serialize` handed out before: msgpackr only moves back to where this
   * call started. The returned object is reused.
   */
  serializeScratch(value: unknown): EncodedRange {
    let out: Buffer & { start: number; end: number };
    try {
      out = this.packr.pack(value, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Buffer & { start: number; end: number };
    } catch (err) {
      if (!messageOf(err).includes('variableMapSize')) throw encodeError(err);
      const wide = this.serializeWide(value);
      this.scratch.bytes = wide;
      this.scratch.start = 0;
      this.scratch.end = wide.length;
      return this.scratch;
    }
    this.scratch.bytes = out;
    this.scratch.start = out.start;
    this.scratch.end = out.end;
    return this.scratch;
  }

  deserialize(bytes: Uint8Array, limits?: DecodeLimits): unknown {
    return this.deserializeRange(bytes, 0, bytes.length, limits);
  }

  /**
   * Decodes `bytes[start .. end)` in place: no view of the range is made, and msgpackr keeps the
   * `DataView` it needs on `bytes` itself, so frames cut from one socket read share one.
   */
  deserializeRange(bytes: Uint8Array, start: number, end: number, limits?: DecodeLimits): unknown {
    const maxDepth = limits?.maxDepth ?? this.maxDepth;
    const maxElements = limits?.maxElements ?? this.maxElements;
    const length = end - start;
    const scan = scanMsgpack(bytes, maxDepth, maxElements, start, end);
    if (scan !== ScanResult.OK) throw scanError(scan, length);
    const range = this.range;
    range.start = start;
    range.end = end;
    try {
      return this.packr.unpack(bytes, range);
    } catch (err) {
      throw new RpcError(
        `msgpack: cannot decode a ${length}-byte body (${messageOf(err)}); check that the peer uses serializer msgpack (id 2)`,
        RpcCode.SERIALIZATION,
        { reason: 'PLEXUS_ERR_SERIALIZER_DECODE', cause: err },
      );
    }
  }
}

/** The error for a body the pre-scan refused; the scan's details are in `scanFault`. */
function scanError(scan: ScanResult, bytes: number): RpcError {
  if (scan === ScanResult.DEPTH) return decodeLimitError('msgpack', 'maxDepth', scanFault.value, bytes);
  if (scan === ScanResult.ELEMENTS) return decodeLimitError('msgpack', 'maxElements', scanFault.value, bytes);
  const { at, value, left, type } = scanFault;
  const detail =
    scan === ScanResult.TRUNCATED
      ? `it ends inside the value at byte ${at}`
      : scan === ScanResult.TOO_LONG
        ? `the value at byte ${at} declares ${value} items or bytes, but only ${left} bytes remain`
        : scan === ScanResult.TRAILING
          ? `${value} bytes follow the value`
          : scan === ScanResult.BIGINT
            ? `the big integer at byte ${at} takes ${value} bytes, more than ${MAX_BIGINT_BYTES}`
            : `extension type 0x${type.toString(16)} at byte ${at} is not accepted (records, bundled strings and references are off)`;
  return new RpcError(
    `msgpack: cannot decode a ${bytes}-byte body (${detail}); check that the peer uses serializer msgpack (id 2) and sends whole bodies`,
    RpcCode.SERIALIZATION,
    { reason: 'PLEXUS_ERR_SERIALIZER_DECODE', retryable: false },
  );
}

function encodeError(err: unknown): RpcError {
  return new RpcError(
    `msgpack: cannot encode the value (${messageOf(err)}); send plain data without cycles or symbols: objects, arrays, strings, numbers, bigint, Date, Buffer, Set`,
    RpcCode.SERIALIZATION,
    { reason: 'PLEXUS_ERR_SERIALIZER_ENCODE', cause: err },
  );
}

/** The message of whatever was thrown (a value's getter or Proxy may throw anything); never throws. */
function messageOf(err: unknown): string {
  return RpcError.fromThrown(err).message;
}

export default definePlugin({
  name: '@plexus/serializer-msgpack',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'serializer',
      name: 'msgpack',
      id: 2,
      optionsSchema: MSGPACK_OPTIONS_SCHEMA,
      create: (ctx) => new MsgpackSerializer(ctx.options as MsgpackSerializerOptions),
    },
  ],
});

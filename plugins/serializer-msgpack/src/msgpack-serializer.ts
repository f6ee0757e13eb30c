import { Packr, type Options as PackrOptions } from 'msgpackr';
import { definePlugin, RpcCode, RpcError, type Serializer } from '@plexus/kernel/spi';

/** Options of {@link MsgpackSerializer}; all optional. */
export interface MsgpackSerializerOptions {
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
   * a view into the message body, which is fastest. Set `true` when a transport reuses its receive
   * buffers, or when small decoded binaries are kept for long (a view keeps the whole body alive).
   */
  copyBuffers?: boolean;
}

/** JSON schema of {@link MsgpackSerializerOptions}, checked by the loader. */
export const MSGPACK_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
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
 * prototype; structured-clone references are refused, so a body cannot build cycles.
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
  /** For objects of more than 65535 keys, which the fixed map16 header of `packr` cannot hold. */
  private widePackr?: Packr;

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
  }

  serialize(value: unknown): Uint8Array {
    try {
      return this.packr.pack(value);
    } catch (err) {
      // Sizing every map header costs 5-10 % on each call; only the rare huge object pays for it.
      if (err instanceof Error && err.message.includes('variableMapSize')) return this.serializeWide(value);
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

  deserialize(bytes: Uint8Array): unknown {
    try {
      return this.packr.unpack(bytes);
    } catch (err) {
      throw new RpcError(
        `msgpack: cannot decode a ${bytes.length}-byte body (${messageOf(err)}); check that the peer uses serializer msgpack (id 2)`,
        RpcCode.SERIALIZATION,
        { reason: 'PLEXUS_ERR_SERIALIZER_DECODE', cause: err },
      );
    }
  }
}

function encodeError(err: unknown): RpcError {
  return new RpcError(
    `msgpack: cannot encode the value (${messageOf(err)}); send plain data without cycles or symbols: objects, arrays, strings, numbers, bigint, Date, Buffer, Set`,
    RpcCode.SERIALIZATION,
    { reason: 'PLEXUS_ERR_SERIALIZER_ENCODE', cause: err },
  );
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

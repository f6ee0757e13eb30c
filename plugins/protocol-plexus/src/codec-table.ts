import { PlexusError, RpcCode, RpcError, type Compressor, type ExtensionContext, type Serializer } from '@plexus/kernel/spi';

/** Id 0 is identity on every peer, so the protocol does not depend on the kernel to supply it. */
const IDENTITY: Compressor = {
  id: 0,
  name: 'identity',
  compress: (bytes) => bytes,
  decompress: (bytes) => bytes,
};

/**
 * Serializers and compressors by name and by wire id, resolved through the extension context once
 * and then cached, so the hot path costs a Map lookup (by name) or an array index (by id).
 * Scope: one per protocol instance.
 */
export class CodecTable {
  private readonly serializersByName = new Map<string, Serializer>();
  private readonly compressorsByName = new Map<string, Compressor>();
  private readonly serializersById: Array<Serializer | undefined> = new Array(256).fill(undefined);
  private readonly compressorsById: Array<Compressor | undefined> = new Array(256).fill(undefined);

  constructor(private readonly ctx: Pick<ExtensionContext, 'resolve' | 'resolveById'>) {
    this.compressorsById[0] = IDENTITY;
    this.compressorsByName.set('identity', IDENTITY);
  }

  /** The serializer named `name`; throws an `RpcError` (`SERIALIZATION`) naming the miss. */
  serializer(name: string): Serializer {
    let s = this.serializersByName.get(name);
    if (s === undefined) {
      s = this.lookup<Serializer>('serializer', name);
      this.serializersByName.set(name, s);
      this.serializersById[s.id & 0xff] ??= s;
    }
    return s;
  }

  /** The compressor named `name`; throws an `RpcError` (`SERIALIZATION`) naming the miss. */
  compressor(name: string): Compressor {
    let c = this.compressorsByName.get(name);
    if (c === undefined) {
      c = this.lookup<Compressor>('compressor', name);
      this.compressorsByName.set(name, c);
      this.compressorsById[c.id & 0xff] ??= c;
    }
    return c;
  }

  /** The serializer with wire id `id`, or undefined when no loaded plugin has it. */
  serializerById(id: number): Serializer | undefined {
    if (id < 0 || id > 255) return undefined;
    let s = this.serializersById[id];
    if (s === undefined) {
      s = this.lookupById<Serializer>('serializer', id);
      if (s !== undefined) this.serializersById[id] = s;
    }
    return s;
  }

  /** The compressor with wire id `id`, or undefined when no loaded plugin has it. */
  compressorById(id: number): Compressor | undefined {
    if (id < 0 || id > 255) return undefined;
    let c = this.compressorsById[id];
    if (c === undefined) {
      c = this.lookupById<Compressor>('compressor', id);
      if (c !== undefined) this.compressorsById[id] = c;
    }
    return c;
  }

  private lookup<T>(point: string, name: string): T {
    try {
      return this.ctx.resolve<T>(point, name);
    } catch (err) {
      throw new RpcError((err as Error).message, RpcCode.SERIALIZATION, {
        reason: PlexusError.is(err) ? err.code : undefined,
        cause: err,
      });
    }
  }

  private lookupById<T>(point: string, id: number): T | undefined {
    try {
      return this.ctx.resolveById<T>(point, id);
    } catch {
      return undefined; // a plugin that fails to load is as good as missing; the caller names the id
    }
  }
}

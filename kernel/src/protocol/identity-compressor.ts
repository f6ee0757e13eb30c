import { definePlugin } from '../extension/plugin';
import { RpcCode, RpcError } from '../errors/rpc-error';
import type { Compressor } from '../spi/compressor';

/** The no-op compressor, id 0: what every message uses unless a compressor is chosen. */
export class IdentityCompressor implements Compressor {
  readonly id = 0;
  readonly name = 'identity';
  compress(bytes: Uint8Array): Uint8Array {
    return bytes;
  }
  decompress(bytes: Uint8Array, maxOutput?: number): Uint8Array {
    if (maxOutput !== undefined && bytes.length > maxOutput) {
      throw new RpcError(`body of ${bytes.length} bytes exceeds the limit of ${maxOutput}`, RpcCode.PAYLOAD_TOO_LARGE, {
        reason: 'PLEXUS_ERR_COMPRESSOR_TOO_LARGE',
      });
    }
    return bytes;
  }
}

export default definePlugin({
  name: '@plexus/kernel',
  extensions: [{ point: 'compressor', name: 'identity', id: 0, create: () => new IdentityCompressor() }],
});

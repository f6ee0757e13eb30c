import * as zlib from 'node:zlib';
import {
  RpcCode,
  RpcError,
  RpcInvocation,
  type ProviderRequest,
  URL,
  type Compressor,
  type Invocation,
  type Result,
  type Serializer,
  type ServiceInvoker,
  type Transport,
} from '@plexus/kernel/spi';
import { fakeExtensionContext, methodSettings, MemoryLogger } from '@plexus/kernel/testing';
import { PlexusProtocol } from '../../src/plexus-protocol';

/** Stand-in JSON serializer (id 1), `undefined` in arrays becomes null as JSON does. */
export const jsonSerializer: Serializer = {
  id: 1,
  name: 'json',
  serialize: (value) => Buffer.from(JSON.stringify(value) ?? 'null'),
  deserialize: (bytes) => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')),
};

/** A serializer only the consumer knows: its id is unknown to the provider. */
export const exoticSerializer: Serializer = { ...jsonSerializer, id: 77, name: 'exotic' };

/** Stand-in compressor (id 1) over zlib's deflate, honouring `maxOutput`. */
export const deflateCompressor: Compressor = {
  id: 1,
  name: 'deflate',
  compress: (bytes) => zlib.deflateRawSync(bytes),
  decompress: (bytes, maxOutput) => {
    try {
      return zlib.inflateRawSync(bytes, maxOutput ? { maxOutputLength: maxOutput } : {});
    } catch (err) {
      // as the real compressors do
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new RpcError(`inflates beyond ${maxOutput} bytes`, RpcCode.PAYLOAD_TOO_LARGE, { reason: 'PLEXUS_ERR_COMPRESSOR_TOO_LARGE' });
      }
      throw err;
    }
  },
};

/** The stand-in deflate compressor, counting its work. */
export function countingCompressor(): Compressor & { counts: { compress: number; decompress: number } } {
  const counts = { compress: 0, decompress: 0 };
  return {
    ...deflateCompressor,
    counts,
    compress: (bytes) => (counts.compress++, deflateCompressor.compress(bytes)),
    decompress: (bytes, max) => (counts.decompress++, deflateCompressor.decompress(bytes, max)),
  };
}

export interface ProtocolInit {
  transport: Transport;
  options?: Record<string, unknown>;
  serializers?: Serializer[];
  compressors?: Compressor[];
}

/** A protocol wired to a transport and stand-in codecs through a hand-made context. */
export function makeProtocol(init: ProtocolInit): { protocol: PlexusProtocol; logger: MemoryLogger } {
  const serializers = init.serializers ?? [jsonSerializer];
  const compressors = init.compressors ?? [deflateCompressor];
  const logger = new MemoryLogger();
  const ctx = fakeExtensionContext(
    { name: 'plexus', host: '127.0.0.1', port: 0, heartbeat: 0, ...init.options },
    {
      logger,
      resolve: (point, name) => {
        if (point === 'transport') return init.transport;
        if (point === 'serializer') {
          const s = serializers.find((x) => x.name === name);
          if (!s) throw new Error(`No serializer named "${name}"`);
          return s;
        }
        if (point === 'compressor') {
          const c = compressors.find((x) => x.name === name);
          if (!c) throw new Error(`No compressor named "${name}"`);
          return c;
        }
        throw new Error(`unexpected resolve ${point} ${name}`);
      },
      resolveById: (point, id) =>
        point === 'serializer' ? serializers.find((x) => x.id === id) : point === 'compressor' ? compressors.find((x) => x.id === id) : undefined,
    },
  );
  return { protocol: new PlexusProtocol(ctx), logger };
}

type Impl = Record<string, (...args: any[]) => unknown>;

/** A hand-made ServiceInvoker over `impl`, recording what it ran. */
export class TestService implements ServiceInvoker {
  readonly url: URL;
  readonly methods: readonly string[];
  readonly seen: Invocation[] = [];

  constructor(
    readonly serviceKey: string,
    private readonly impl: Impl,
  ) {
    this.url = URL.parse(`plexus://127.0.0.1:0/${serviceKey}`);
    this.methods = Object.keys(impl);
  }

  createInvocation(request: ProviderRequest): Invocation {
    const { method } = request;
    const name = typeof method === 'number' ? this.methods[method] : method;
    if (name === undefined || !this.methods.includes(name)) {
      throw new RpcError(`service ${this.serviceKey} has no method ${String(method)}`, RpcCode.METHOD_NOT_FOUND);
    }
    const timeout = request.timeout ?? 0;
    return new RpcInvocation({
      service: this.serviceKey,
      method: name,
      args: request.args,
      attachments: request.attachments,
      serviceKey: this.serviceKey,
      settings: methodSettings({ method: name, timeout: 0 }),
      deadline: timeout > 0 ? Date.now() + timeout : 0,
      remoteAddress: request.remoteAddress,
    });
  }

  async invoke(inv: Invocation): Promise<Result> {
    this.seen.push(inv);
    try {
      const value = await this.impl[inv.method](...inv.args);
      return { value };
    } catch (err) {
      throw RpcError.from(err, RpcCode.SERVICE_ERROR);
    }
  }
}

/** A consumer invocation of `serviceKey.method(args)` with settings overrides. */
export function call(
  serviceKey: string,
  method: string,
  args: unknown[],
  settings: Record<string, unknown> = {},
  attachments: Record<string, string> = {},
  deadline?: number,
): RpcInvocation {
  return new RpcInvocation({
    service: serviceKey,
    method,
    args,
    attachments,
    serviceKey,
    settings: methodSettings({ method, serializer: 'json', compressor: 'identity', timeout: 2000, ...settings }),
    deadline,
  });
}

/** Resolves after `n` turns of the event loop. */
export async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Polls `check` every few ms until it holds or `ms` pass (bounded, no timed assertions). */
export async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

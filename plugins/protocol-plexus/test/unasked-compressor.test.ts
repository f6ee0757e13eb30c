import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { Plexus, RpcCode, type RpcError } from '@plexus/kernel';
import { encodeResponse, responseHeaderSize } from '../src/frame-codec';
import { FIXED_LENGTH } from '../src/wire';

/**
 * A provider may compress a response only with the compressor the call offered: anything else is
 * refused by the consumer before a single byte is inflated (a bomb in a decompressor the consumer
 * never asked for costs it nothing).
 */
describe('responses compressed with a compressor the call did not offer', () => {
  let server: net.Server;
  let port = 0;

  beforeAll(async () => {
    // A hostile provider: answers every request with a gzip (id 1) body, whatever was asked.
    server = net.createServer((socket) => {
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= FIXED_LENGTH) {
          const length = FIXED_LENGTH + buffered.readUInt32BE(16) + buffered.readUInt32BE(20);
          if (buffered.length < length) return;
          const id = buffered.readUInt32BE(12);
          buffered = buffered.subarray(length);
          const body = zlib.gzipSync(Buffer.from([0xa2, 0x6f, 0x6b])); // msgpack "ok"
          socket.write(encodeResponse(id, 0, 2, 1, undefined, body, responseHeaderSize(1, undefined)));
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is refused with BAD_RESPONSE and PLEXUS_ERR_PROTOCOL_UNASKED_COMPRESSOR', async () => {
    const app = Plexus.create({ application: { name: 'unasked' }, logLevel: 'silent', registry: 'none' });
    const ref = app.refer<{ hello(): string }>({ interface: 'x.Y', url: `plexus://127.0.0.1:${port}`, retries: 0, check: false });
    let err: RpcError | undefined;
    try {
      await ref.hello();
    } catch (e) {
      err = e as RpcError;
    }
    expect(err?.code).toBe(RpcCode.BAD_RESPONSE);
    expect(err?.reason).toBe('PLEXUS_ERR_PROTOCOL_UNASKED_COMPRESSOR');
    await app.stop();
  });
});

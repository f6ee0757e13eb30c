import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { Plexus, RpcCode, RpcError } from '@plexus/kernel';
import { FIXTURES, sendRaw, startProvider, type ProviderProcess } from './helpers';

/**
 * The data path end to end: a provider process started from a config file, this process as the
 * consumer with direct `url:` references, everything over real sockets on 127.0.0.1.
 */
interface KitchenSink {
  echo<T>(v: T): T;
  describe(v: Record<string, unknown>): Record<string, string>;
  bytes(n: number): Buffer;
  text(n: number): string;
  length(b: Uint8Array): number;
  sleep(ms: number): number;
  context(): { attachments: Record<string, string>; remote: string; method: string; deadline: number };
  fail(message: string): never;
  memory(): NodeJS.MemoryUsage;
}

const MiB = 1024 * 1024;
let provider: ProviderProcess;
let app: Plexus;

function reference(id: string) {
  return app.reference<KitchenSink>(id);
}

beforeAll(async () => {
  provider = await startProvider(path.join(FIXTURES, 'provider.yaml'), ['--expose-gc']);
  const url = `plexus://127.0.0.1:${provider.port}`;
  const base = { interface: 'e2e.KitchenSink', version: '1.0.0', url, timeout: 10_000 };
  app = Plexus.create({
    application: { name: 'e2e-consumer' },
    references: {
      msgpack: { ...base, serializer: 'msgpack' },
      json: { ...base, serializer: 'json' },
      lz4: { ...base, compressor: 'lz4', compressThreshold: 1024 },
      snappy: { ...base, compressor: 'snappy' },
      gzip: { ...base, compressor: 'gzip' },
      quick: { ...base, timeout: 200, retries: 0 },
    },
  });
  await app.start();
});

afterAll(async () => {
  await app?.stop();
  if (provider && provider.child.exitCode === null) provider.child.kill('SIGKILL');
});

describe('serializers chosen per reference', () => {
  it('msgpack keeps objects, Dates and binary', async () => {
    const value = { when: new Date(1_700_000_000_000), blob: Buffer.from([0, 1, 2, 250]), nested: { list: [1, 'two', null, true] }, n: 2 ** 40 };
    const back = await reference('msgpack').echo(value);
    expect(back.when).toBeInstanceOf(Date);
    expect(back.when.getTime()).toBe(value.when.getTime());
    expect(Buffer.from(back.blob).equals(value.blob)).toBe(true);
    expect(back.nested).toEqual(value.nested);
    expect(back.n).toBe(2 ** 40);
    await expect(reference('msgpack').describe(value)).resolves.toMatchObject({ when: 'Date', nested: 'object' });
  });

  it('json shows json behaviour: Dates arrive as strings', async () => {
    const when = new Date(1_700_000_000_000);
    const seen = await reference('json').describe({ when, nested: { a: 1 } });
    expect(seen.when).toBe('string');
    const back = await reference('json').echo({ when });
    expect(typeof back.when).toBe('string');
    expect(back.when).toBe(when.toISOString());
  });
});

describe('compressors', () => {
  for (const id of ['lz4', 'snappy', 'gzip']) {
    it(`${id}: 1 MiB round-trips both ways`, async () => {
      const ref = reference(id);
      const random = crypto.randomBytes(MiB);
      await expect(ref.length(random)).resolves.toBe(MiB);
      const text = await ref.text(MiB);
      expect(text.length).toBe(MiB);
      expect(text.startsWith('plexus plexus')).toBe(true);
      const bytes = Buffer.from(await ref.bytes(MiB));
      expect(bytes.length).toBe(MiB);
      expect(bytes[12345]).toBe((12345 * 31 + (12345 >> 7)) & 0xff);
    });
  }
});

describe('limits and errors', () => {
  it('refuses a 9 MiB request with a code, and the next call works', async () => {
    const ref = reference('msgpack');
    const err = (await ref.length(Buffer.alloc(9 * MiB)).catch((e) => e)) as RpcError;
    expect(RpcError.is(err)).toBe(true);
    expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
    expect(err.message).toMatch(/payload/i);
    await expect(ref.echo('still alive')).resolves.toBe('still alive');
  });

  it('passes business errors through with their name, message and code', async () => {
    const err = (await reference('msgpack').fail('nope').catch((e) => e)) as RpcError;
    expect(err.code).toBe(RpcCode.SERVICE_ERROR);
    expect(err.message).toBe('nope');
    expect(err.remoteName).toBe('TypeError');
    expect(err.data).toEqual({ code: 'E_KITCHEN' });
  });

  it('times out with TIMEOUT and keeps the connection usable', async () => {
    const err = (await reference('quick').sleep(1000).catch((e) => e)) as RpcError;
    expect(err.code).toBe(RpcCode.TIMEOUT);
    await expect(reference('quick').echo(1)).resolves.toBe(1);
  });

  it('reports unknown methods', async () => {
    const err = (await app.generic('e2e.KitchenSink', { version: '1.0.0', url: `plexus://127.0.0.1:${provider.port}` }).$invoke('constructor').catch((e) => e)) as RpcError;
    expect(err.code).toBe(RpcCode.METHOD_NOT_FOUND);
  });

  it('carries attachments and the deadline to the provider', async () => {
    const ctx = await Plexus.withAttachments({ trace: 'abc' }, () => reference('msgpack').context());
    expect(ctx.attachments.trace).toBe('abc');
    expect(ctx.method).toBe('context');
    expect(ctx.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(ctx.deadline).toBeGreaterThan(Date.now());
  });
});

describe('concurrency', () => {
  it('2,000 concurrent calls on one reference all come back right', async () => {
    const ref = reference('msgpack');
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => ref.echo({ i, s: `v${i}` })));
    results.forEach((r, i) => expect(r).toEqual({ i, s: `v${i}` }));
  });
});

describe('bad input on the provider port', () => {
  function lyingFrame(bodyLength: number): Buffer {
    const b = Buffer.alloc(24 + 10);
    b[0] = 0xe7;
    b[1] = 0x58;
    b[2] = 1;
    b.writeUInt32BE(7, 12);
    b.writeUInt32BE(4, 16);
    b.writeUInt32BE(bodyLength >>> 0, 20);
    return b;
  }

  it('closes connections that send garbage, HTTP or lying lengths, keeps serving, and memory stays flat', async () => {
    const ref = reference('msgpack');
    const before = await ref.memory();
    for (let round = 0; round < 25; round++) {
      const outcomes = await Promise.all([
        sendRaw(provider.port, crypto.randomBytes(512)),
        sendRaw(provider.port, Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')),
        sendRaw(provider.port, lyingFrame(0xffffffff), 300),
        sendRaw(provider.port, lyingFrame(100_000), 50),
      ]);
      expect(outcomes[0].closedByPeer).toBe(true);
      expect(outcomes[1].closedByPeer).toBe(true);
      // An over-limit frame is refused from its header: an error response, or a closed connection.
      expect(outcomes[2].closedByPeer || outcomes[2].received > 0).toBe(true);
      await expect(ref.echo(round)).resolves.toBe(round);
    }
    const after = await ref.memory();
    // Bounded growth: 100 bad connections must not leave their bytes behind.
    expect(after.heapUsed - before.heapUsed).toBeLessThan(16 * MiB);
    expect(after.rss - before.rss).toBeLessThan(64 * MiB);
  });
});

describe('graceful stop', () => {
  it('SIGTERM lets in-flight calls finish and exits cleanly', async () => {
    const ref = reference('msgpack');
    const inflight = ref.sleep(300);
    await new Promise((r) => setTimeout(r, 50));
    process.kill(provider.pid, 'SIGTERM');
    await expect(inflight).resolves.toBe(300);
    const { code, signal } = await provider.exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    const err = (await ref.echo('after').catch((e) => e)) as RpcError;
    expect(RpcError.is(err)).toBe(true);
    expect([RpcCode.NETWORK, RpcCode.SHUTTING_DOWN]).toContain(err.code);
  });
});

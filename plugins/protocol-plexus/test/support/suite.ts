import { RpcCode, RpcError, URL, type Compressor, type Exporter, type Invoker, type Transport } from '@plexus/kernel/spi';
import { MemoryLogger } from '@plexus/kernel/testing';
import { FrameDecoder } from '../../src/frame-decoder';
import type { PlexusProtocol } from '../../src/plexus-protocol';
import { FIXED_LENGTH, Status, Tag, writeFixed } from '../../src/wire';
import { call, countingCompressor, exoticSerializer, jsonSerializer, makeProtocol, TestService, until } from './harness';
import { RawClient, SpyTransport } from './spy-transport';

const KEY = 'demo.Greeter';

/** What a test gets: a provider and a consumer protocol over the same transport. */
interface World {
  transport: SpyTransport;
  provider: PlexusProtocol;
  providerLog: MemoryLogger;
  consumer: PlexusProtocol;
  consumerLog: MemoryLogger;
  service: TestService;
  exporter: Exporter;
  invoker: Invoker;
  port: number;
}

/** Gates a test's provider method so it finishes only when the test says so. */
class Gate {
  private release: (() => void) | undefined;
  entered = 0;
  readonly opened = new Promise<void>((r) => (this.release = r));
  open(): void {
    this.release?.();
  }
}

/**
 * The end-to-end suite of the plexus protocol over one transport: a provider and a consumer
 * protocol instance, a hand-made ServiceInvoker, real frames.
 */
export function protocolSuite(label: string, makeTransport: () => Transport): void {
  describe(`plexus protocol end to end over ${label}`, () => {
    const worlds: World[] = [];
    let gate: Gate;

    async function world(
      init: { provider?: Record<string, unknown>; consumer?: Record<string, unknown>; compressor?: Compressor } = {},
    ): Promise<World> {
      const transport = new SpyTransport(makeTransport());
      const compressors = init.compressor ? [init.compressor] : undefined;
      const p = makeProtocol({ transport, options: init.provider, compressors });
      const c = makeProtocol({ transport, options: init.consumer, serializers: [jsonSerializer, exoticSerializer], compressors });
      const service = new TestService(KEY, {
        hello: (name: string) => `hello ${name}`,
        echo: (value: unknown) => value,
        nothing: () => undefined,
        fail: (message: string) => {
          const err = new TypeError(message);
          throw err;
        },
        slow: async (value: unknown) => {
          gate.entered++;
          await gate.opened;
          return value;
        },
        delayed: async (value: number, ms: number) => {
          await new Promise((r) => setTimeout(r, ms));
          return value * 2;
        },
        big: (size: number) => 'x'.repeat(size),
        context: () => null,
      });
      const exporter = await p.protocol.export(service, URL.parse(`plexus://127.0.0.1:0/${KEY}`));
      const invoker = c.protocol.refer(exporter.url);
      const w: World = {
        transport,
        provider: p.protocol,
        providerLog: p.logger,
        consumer: c.protocol,
        consumerLog: c.logger,
        service,
        exporter,
        invoker,
        port: exporter.url.port,
      };
      worlds.push(w);
      return w;
    }

    beforeEach(() => {
      gate = new Gate();
    });

    afterEach(async () => {
      gate.open();
      for (const w of worlds.splice(0)) {
        await w.consumer.destroy();
        await w.provider.destroy();
      }
    });

    async function rejection(p: Promise<unknown>): Promise<RpcError> {
      try {
        await p;
      } catch (err) {
        expect(RpcError.is(err)).toBe(true);
        return err as RpcError;
      }
      throw new Error('expected the call to fail');
    }

    it('round-trips values, attachments, remote address and deadline', async () => {
      const w = await world();
      expect(w.port).toBeGreaterThan(0);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['ada']))).resolves.toEqual({ value: 'hello ada' });
      const value = { n: 1, list: [1, 'two', null], nested: { ok: true }, text: 'ünïcødé ✓' };
      await expect(w.invoker.invoke(call(KEY, 'echo', [value]))).resolves.toEqual({ value });
      await expect(w.invoker.invoke(call(KEY, 'nothing', []))).resolves.toEqual({ value: undefined });
      const before = Date.now();
      await w.invoker.invoke(call(KEY, 'context', [], { timeout: 5000 }, { trace: 't-1', 'ключ': 'значение' }));
      const seen = w.service.seen[w.service.seen.length - 1];
      expect(seen.attachments).toEqual({ trace: 't-1', 'ключ': 'значение' });
      expect(typeof seen.remoteAddress).toBe('string');
      expect(seen.deadline).toBeGreaterThanOrEqual(before + 4000);
      expect(seen.deadline).toBeLessThanOrEqual(Date.now() + 5000);
    });

    it('compresses large bodies both ways when a compressor is configured', async () => {
      const deflate = countingCompressor();
      const w = await world({ provider: { compressThreshold: 100, compressor: 'deflate' }, compressor: deflate });
      const text = 'abc'.repeat(20000);
      const settings = { compressor: 'deflate', compressThreshold: 1024 };
      await expect(w.invoker.invoke(call(KEY, 'echo', [text], settings))).resolves.toEqual({ value: text });
      expect(deflate.counts).toEqual({ compress: 2, decompress: 2 }); // request and response
      // A small request stays plain, but the large response still comes back compressed.
      await expect(w.invoker.invoke(call(KEY, 'big', [5000], settings))).resolves.toEqual({ value: 'x'.repeat(5000) });
      expect(deflate.counts).toEqual({ compress: 3, decompress: 3 });
      // Below the provider's threshold nothing is compressed.
      await expect(w.invoker.invoke(call(KEY, 'hello', ['a'], settings))).resolves.toEqual({ value: 'hello a' });
      expect(deflate.counts).toEqual({ compress: 3, decompress: 3 });
    });

    it('carries a business error with its message and name, not retryable', async () => {
      const w = await world();
      const err = await rejection(w.invoker.invoke(call(KEY, 'fail', ['bad input'])));
      expect(err.code).toBe(RpcCode.SERVICE_ERROR);
      expect(err.message).toBe('bad input');
      expect(err.remoteName).toBe('TypeError');
      expect(err.retryable).toBe(false);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['again']))).resolves.toEqual({ value: 'hello again' });
    });

    it('answers an unknown service with SERVICE_NOT_FOUND', async () => {
      const w = await world();
      const err = await rejection(w.invoker.invoke(call('demo.Nope', 'hello', ['x'])));
      expect(err.code).toBe(RpcCode.SERVICE_NOT_FOUND);
      expect(err.reason).toBe('PLEXUS_ERR_PROTOCOL_SERVICE_NOT_FOUND');
      expect(err.message).toContain('demo.Nope');
      expect(err.message).toContain('hint:');
    });

    it('answers an unknown method with METHOD_NOT_FOUND', async () => {
      const w = await world();
      const err = await rejection(w.invoker.invoke(call(KEY, 'constructor', [])));
      expect(err.code).toBe(RpcCode.METHOD_NOT_FOUND);
      expect(err.message).toContain('constructor');
    });

    it('a call the kernel cancels rejects with the reason, sends a cancel frame that aborts the provider call, and drops the late answer', async () => {
      const w = await world();
      const inv = call(KEY, 'slow', ['late'], { timeout: 5000 });
      const pending = w.invoker.invoke(inv);
      await until(() => w.service.seen.some((s) => s.args[0] === 'late'));
      const providerSide = w.service.seen.find((s) => s.args[0] === 'late')!;
      const reason = new RpcError('gave up', RpcCode.TIMEOUT, { reason: 'PLEXUS_ERR_CALL_TIMEOUT' });
      inv.cancel(reason);
      expect(await rejection(pending)).toBe(reason);
      await until(() => providerSide.cancelled !== undefined);
      expect(providerSide.cancelled!.reason).toBe('PLEXUS_ERR_PROTOCOL_CANCELLED_BY_CONSUMER');
      expect(providerSide.signal.aborted).toBe(true);
      gate.open();
      await until(() => w.provider.active === 0);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['next']))).resolves.toEqual({ value: 'hello next' });
    });

    it('fails at once when the deadline already passed', async () => {
      const w = await world();
      const inv = call(KEY, 'hello', ['x'], {}, {}, Date.now() - 1);
      const err = await rejection(w.invoker.invoke(inv));
      expect(err.code).toBe(RpcCode.TIMEOUT);
      expect(err.reason).toBe('PLEXUS_ERR_PROTOCOL_TIMEOUT');
    });

    it('sends one-way calls without awaiting an answer', async () => {
      const w = await world();
      const before = w.service.seen.length;
      await expect(w.invoker.invoke(call(KEY, 'echo', ['fire'], { oneWay: true }))).resolves.toEqual({ value: undefined });
      await expect(w.invoker.invoke(call(KEY, 'echo', ['and forget'], { oneWay: true }))).resolves.toEqual({ value: undefined });
      await until(() => w.service.seen.length === before + 2);
      expect(w.service.seen.slice(before).map((i) => i.args[0])).toEqual(['fire', 'and forget']);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['two-way']))).resolves.toEqual({ value: 'hello two-way' });
    });

    it('matches 2,000 concurrent calls on one connection', async () => {
      const w = await world();
      const n = 2000;
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < n; i++) calls.push(w.invoker.invoke(call(KEY, 'delayed', [i, (i * 7) % 13], { timeout: 20000 })));
      const results = (await Promise.all(calls)) as Array<{ value: number }>;
      results.forEach((r, i) => expect(r.value).toBe(i * 2));
      expect(w.transport.clients).toHaveLength(1);
      expect(w.transport.serverChannels()).toHaveLength(1);
    });

    it('refuses to send a request over the payload limit and keeps the connection usable', async () => {
      const w = await world({ consumer: { payload: 4096 }, provider: { payload: 4096 } });
      await expect(w.invoker.invoke(call(KEY, 'hello', ['first']))).resolves.toEqual({ value: 'hello first' });
      const err = await rejection(w.invoker.invoke(call(KEY, 'echo', ['y'.repeat(5000)])));
      expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
      expect(err.reason).toBe('PLEXUS_ERR_PROTOCOL_PAYLOAD_TOO_LARGE');
      expect(err.message).toContain('protocol.payload');
      await expect(w.invoker.invoke(call(KEY, 'hello', ['after']))).resolves.toEqual({ value: 'hello after' });
      expect(w.transport.serverChannels()).toHaveLength(1);
    });

    it('turns a response over the payload limit into an error response', async () => {
      const w = await world({ provider: { payload: 4096 } });
      const err = await rejection(w.invoker.invoke(call(KEY, 'big', [10000])));
      expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
      expect(err.message).toContain(`${KEY}.big`);
      await expect(w.invoker.invoke(call(KEY, 'big', [10]))).resolves.toEqual({ value: 'x'.repeat(10) });
    });

    it('refuses a received request over the limit from its header and keeps reading the connection', async () => {
      // the consumer allows more than the provider accepts
      const w = await world({ provider: { payload: 4096 }, consumer: { payload: 1 << 20 } });
      await w.invoker.invoke(call(KEY, 'hello', ['warm']));
      const err = await rejection(w.invoker.invoke(call(KEY, 'echo', ['z'.repeat(200_000)])));
      expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
      expect(err.message).toMatch(/the request is \d+ bytes, over the payload limit of 4096 bytes/);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['still here']))).resolves.toEqual({ value: 'hello still here' });
      expect(w.transport.clients).toHaveLength(1);
      expect(w.transport.serverChannels()).toHaveLength(1);
    });

    it('refuses a received response over the limit from its header and keeps the connection', async () => {
      const w = await world({ provider: { payload: 1 << 20 }, consumer: { payload: 4096 } });
      const err = await rejection(w.invoker.invoke(call(KEY, 'big', [100_000])));
      expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
      expect(err.message).toContain('the response to');
      await expect(w.invoker.invoke(call(KEY, 'big', [5]))).resolves.toEqual({ value: 'xxxxx' });
      expect(w.transport.serverChannels()).toHaveLength(1);
    });

    it('refuses a request with more attachments than the provider maxAttachments, before reading them', async () => {
      const w = await world({ provider: { maxAttachments: 2 } });
      await expect(w.invoker.invoke(call(KEY, 'hello', ['two'], {}, { a: '1', b: '2' }))).resolves.toEqual({ value: 'hello two' });
      const err = await rejection(w.invoker.invoke(call(KEY, 'hello', ['three'], {}, { a: '1', b: '2', c: '3' })));
      expect(err.reason).toBe('PLEXUS_ERR_PROTOCOL_HEADER_LIMIT');
      await expect(w.invoker.invoke(call(KEY, 'hello', ['after'], {}))).resolves.toEqual({ value: 'hello after' });
    });

    it('refuses a small compressed request that would inflate past the limit', async () => {
      const w = await world({ provider: { payload: 4096, compressor: 'deflate' }, compressor: countingCompressor() });
      const settings = { compressor: 'deflate', compressThreshold: 0 };
      const err = await rejection(w.invoker.invoke(call(KEY, 'echo', ['0'.repeat(200_000)], settings)));
      expect(err.code).toBe(RpcCode.PAYLOAD_TOO_LARGE);
      expect(err.reason).toBe('PLEXUS_ERR_COMPRESSOR_TOO_LARGE');
      await expect(w.invoker.invoke(call(KEY, 'hello', ['ok'], settings))).resolves.toEqual({ value: 'hello ok' });
    });

    it('closes only the connection that sent an HTTP request, with a coded warning', async () => {
      const w = await world();
      await w.invoker.invoke(call(KEY, 'hello', ['before']));
      const raw = await RawClient.open(w.transport.inner, '127.0.0.1', w.port);
      raw.channel.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      await until(() => raw.closed);
      const warning = w.providerLog.entries.find((e) => e.level === 'warn');
      expect(warning?.fields?.code).toBe('PLEXUS_ERR_PROTOCOL_BAD_MAGIC');
      expect(warning?.message).toContain('"GET / HT"');
      await expect(w.invoker.invoke(call(KEY, 'hello', ['after']))).resolves.toEqual({ value: 'hello after' });
      raw.channel.destroy();
    });

    it('closes only the connection that sent garbage', async () => {
      const w = await world();
      const raw = await RawClient.open(w.transport.inner, '127.0.0.1', w.port);
      raw.channel.write(Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff)));
      await until(() => raw.closed);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['fine']))).resolves.toEqual({ value: 'hello fine' });
      raw.channel.destroy();
    });

    it('answers a hand-made request that names its method by index, and skips unknown entries', async () => {
      const w = await world();
      const raw = await RawClient.open(w.transport.inner, '127.0.0.1', w.port);
      const key = Buffer.from(KEY);
      const header = Buffer.concat([
        Buffer.from([0x7e, 3, 1, 2, 3]), // an entry from the future
        Buffer.from([Tag.SERVICE, key.length]),
        key,
        Buffer.from([Tag.METHOD_INDEX, 1, 0]), // methods[0] is hello
        Buffer.from([Tag.SERIALIZER, 1, jsonSerializer.id]),
      ]);
      const body = Buffer.from('["index"]');
      const frame = Buffer.alloc(FIXED_LENGTH + header.length + body.length);
      writeFixed(frame, 0, 0, 0, 42, header.length, body.length);
      header.copy(frame, FIXED_LENGTH);
      body.copy(frame, FIXED_LENGTH + header.length);
      raw.channel.write(frame);
      await until(() => raw.bytes.length > FIXED_LENGTH);
      const bytes = raw.bytes;
      const decoded: Array<{ id: number; status: number; body: string }> = [];
      new FrameDecoder(1 << 20, {
        onFrame: (d, buf, off) => {
          const start = off + FIXED_LENGTH + d.headerLength;
          decoded.push({ id: d.id, status: d.status, body: buf.toString('utf8', start, start + d.bodyLength) });
        },
        onOversize: () => undefined,
        onGarbage: () => undefined,
      }).push(bytes);
      expect(decoded).toEqual([{ id: 42, status: Status.OK, body: '"hello index"' }]);
      raw.channel.destroy();
    });

    it('holds no more than the declared frame of a lying length, and a heartbeat timeout closes the silent peer', async () => {
      const w = await world({ provider: { heartbeat: 40, heartbeatMisses: 2 } });
      // A live consumer answers the provider's heartbeats and keeps its connection.
      await w.invoker.invoke(call(KEY, 'hello', ['live']));
      const live = w.transport.serverChannels()[0];
      const raw = await RawClient.open(w.transport.inner, '127.0.0.1', w.port);
      const head = Buffer.alloc(FIXED_LENGTH);
      writeFixed(head, 0, 0, 0, 1, 0, 1_000_000);
      raw.channel.write(head);
      raw.channel.write(Buffer.alloc(10_000));
      const held = (): number[] => w.transport.serverChannels().map((c) => (c.state as { decoder: FrameDecoder }).decoder.buffered);
      await until(() => held().includes(FIXED_LENGTH + 10_000));
      expect(Math.max(...held())).toBe(FIXED_LENGTH + 10_000);
      await until(() => raw.closed);
      expect(live.isOpen).toBe(true);
      expect(w.transport.serverChannels()).toEqual([live]);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['still live']))).resolves.toEqual({ value: 'hello still live' });
      raw.channel.destroy();
    });

    it('keeps an idle connection alive with heartbeats', async () => {
      const w = await world({ consumer: { heartbeat: 25, heartbeatMisses: 2 }, provider: { heartbeat: 25, heartbeatMisses: 2 } });
      await w.invoker.invoke(call(KEY, 'hello', ['a']));
      const channel = w.transport.serverChannels()[0];
      // Several heartbeat periods pass with no calls at all.
      await new Promise((r) => setTimeout(r, 300));
      expect(channel.isOpen).toBe(true);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['b']))).resolves.toEqual({ value: 'hello b' });
      expect(w.transport.clients).toHaveLength(1);
      expect(w.transport.serverChannels()).toEqual([channel]);
    });

    it('answers an unknown serializer id with a coded SERIALIZATION error and keeps the connection', async () => {
      const w = await world();
      const err = await rejection(w.invoker.invoke(call(KEY, 'hello', ['x'], { serializer: 'exotic' })));
      expect(err.code).toBe(RpcCode.SERIALIZATION);
      expect(err.reason).toBe('PLEXUS_ERR_PROTOCOL_UNKNOWN_SERIALIZER');
      expect(err.message).toContain('id 77');
      await expect(w.invoker.invoke(call(KEY, 'hello', ['y']))).resolves.toEqual({ value: 'hello y' });
      expect(w.transport.serverChannels()).toHaveLength(1);
    });

    it('fails a call naming a serializer nobody has, without sending it', async () => {
      const w = await world();
      const err = await rejection(w.invoker.invoke(call(KEY, 'hello', ['x'], { serializer: 'yaml' })));
      expect(err.code).toBe(RpcCode.SERIALIZATION);
      expect(err.message).toContain('yaml');
    });

    it('drains: tells consumers, refuses new calls with SHUTTING_DOWN, lets in-flight ones finish', async () => {
      const w = await world();
      expect(w.invoker.isAvailable?.()).toBe(true);
      const inflight = w.invoker.invoke(call(KEY, 'slow', ['kept'], { timeout: 20000 }));
      await until(() => gate.entered === 1);
      let drained = false;
      const draining = w.provider.drain(20000).then(() => (drained = true));
      await until(() => w.invoker.isAvailable?.() === false);
      const refused = await rejection(w.invoker.invoke(call(KEY, 'hello', ['new'])));
      expect(refused.code).toBe(RpcCode.SHUTTING_DOWN);
      expect(refused.retryable).toBe(true);
      // A one-way call arriving now has nobody to refuse to: it runs instead of vanishing.
      const before = w.service.seen.length;
      await w.invoker.invoke(call(KEY, 'echo', ['one-way while draining'], { oneWay: true }));
      await until(() => w.service.seen.length === before + 1);
      expect(w.service.seen[before].args[0]).toBe('one-way while draining');
      expect(drained).toBe(false);
      gate.open();
      await expect(inflight).resolves.toEqual({ value: 'kept' });
      await draining;
      expect(drained).toBe(true);
    });

    it('drain resolves at its timeout when work does not finish', async () => {
      const w = await world();
      const inflight = w.invoker.invoke(call(KEY, 'slow', ['stuck'], { timeout: 0 }));
      await until(() => gate.entered === 1);
      await w.provider.drain(20);
      expect(w.provider.active).toBe(1);
      gate.open();
      await inflight;
    });

    it('shares one connection between references to the same address', async () => {
      const w = await world();
      const second = w.consumer.refer(w.exporter.url);
      const results = await Promise.all([w.invoker.invoke(call(KEY, 'hello', ['one'])), second.invoke(call(KEY, 'hello', ['two']))]);
      expect(results).toEqual([{ value: 'hello one' }, { value: 'hello two' }]);
      expect(w.transport.clients).toHaveLength(1);
      expect(w.transport.serverChannels()).toHaveLength(1);
      // Releasing one reference keeps the connection for the other.
      await second.destroy?.();
      await expect(w.invoker.invoke(call(KEY, 'hello', ['three']))).resolves.toEqual({ value: 'hello three' });
    });

    it('spreads calls over `connections` connections per address', async () => {
      const w = await world({ consumer: { connections: 3 } });
      await Promise.all(Array.from({ length: 9 }, (_, i) => w.invoker.invoke(call(KEY, 'hello', [String(i)]))));
      expect(w.transport.clients).toHaveLength(3);
      expect(w.transport.serverChannels()).toHaveLength(3);
    });

    it('shares one server between services exported at the same address and routes by key', async () => {
      const w = await world();
      const other = new TestService('demo.Other', { ping: () => 'pong' });
      const exporter = await w.provider.export(other, w.exporter.url.withPath('demo.Other'));
      expect(exporter.url.port).toBe(w.port);
      expect(w.transport.servers).toHaveLength(1);
      const inv = w.consumer.refer(exporter.url);
      await expect(inv.invoke(call('demo.Other', 'ping', []))).resolves.toEqual({ value: 'pong' });
      await exporter.unexport();
      expect((await rejection(inv.invoke(call('demo.Other', 'ping', [])))).code).toBe(RpcCode.SERVICE_NOT_FOUND);
      await expect(w.invoker.invoke(call(KEY, 'hello', ['still']))).resolves.toEqual({ value: 'hello still' });
    });

    it('fails pending calls with NETWORK when the provider goes away, and is unavailable until it is back', async () => {
      const w = await world();
      const pending = w.invoker.invoke(call(KEY, 'slow', ['lost'], { timeout: 20000 }));
      await until(() => gate.entered === 1);
      const failed = rejection(pending);
      await w.exporter.unexport(); // the last service: the server closes with its connections
      const err = await failed;
      expect(err.code).toBe(RpcCode.NETWORK);
      expect(err.retryable).toBe(true);
      await until(() => w.invoker.isAvailable?.() === false);
      const refused = await rejection(w.invoker.invoke(call(KEY, 'hello', ['x'])));
      expect(refused.code).toBe(RpcCode.NETWORK);
    });

    it('fails a call with a retryable NETWORK error when nothing listens', async () => {
      const transport = makeTransport();
      const { protocol } = makeProtocol({ transport });
      try {
        const invoker = protocol.refer(URL.parse(`plexus://127.0.0.1:1/${KEY}`));
        const err = await rejection(invoker.invoke(call(KEY, 'hello', ['x'])));
        expect(err.code).toBe(RpcCode.NETWORK);
        expect(err.retryable).toBe(true);
        expect(err.reason).toBe('PLEXUS_ERR_PROTOCOL_CONNECT');
        expect(invoker.isAvailable?.()).toBe(false);
      } finally {
        await protocol.destroy();
      }
    });

    it('an invoker released while its calls are in flight (provider left the list) lets them finish', async () => {
      const w = await world();
      const pending = w.invoker.invoke(call(KEY, 'slow', ['still answered'], { timeout: 20000 }));
      await until(() => gate.entered === 1);
      await w.invoker.destroy?.();
      // A new call reaching the released invoker is not sent, and failover may retry it elsewhere.
      const refused = await rejection(w.invoker.invoke(call(KEY, 'hello', ['late'])));
      expect(refused.reason).toBe('PLEXUS_ERR_PROTOCOL_RELEASED');
      expect(refused.retryable).toBe(true);
      gate.open();
      await expect(pending).resolves.toEqual({ value: 'still answered' });
    });

    it('cancels pending calls on destroy', async () => {
      const w = await world();
      const pending = w.invoker.invoke(call(KEY, 'slow', ['x'], { timeout: 20000 }));
      await until(() => gate.entered === 1);
      const failed = rejection(pending);
      await w.consumer.destroy();
      const err = await failed;
      expect(err.code).toBe(RpcCode.CANCELLED);
      expect((await rejection(w.invoker.invoke(call(KEY, 'hello', ['y'])))).code).toBe(RpcCode.CANCELLED);
    });
  });
}

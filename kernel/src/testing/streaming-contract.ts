import { Plexus } from '../app/plexus';
import { RpcCode, RpcError } from '../errors/rpc-error';

/** What the streaming contract's service offers; a protocol's consumer sees it through a proxy. */
export interface StreamingFeed {
  count(n: number): AsyncIterableIterator<number>;
  contextual(n: number): AsyncIterableIterator<string>;
  failing(after: number): AsyncIterableIterator<number>;
  endless(): AsyncIterableIterator<number>;
  big(size: number): AsyncIterableIterator<string>;
  sum(items: AsyncIterable<number>): Promise<number>;
  doubled(items: AsyncIterable<number>): AsyncIterableIterator<number>;
  stats(): Promise<{ finallies: number; produced: number; bigProduced: number }>;
}

export interface StreamingContractOptions {
  /** Extra keys of the provider's protocol entry (`{ name, host, port: 0 }` is given). */
  protocol?: Record<string, unknown>;
  /** `plugins:` of both applications, when the protocol is not found by name. */
  plugins?: string[];
  /** The URL scheme consumers use (default: the protocol's name). */
  scheme?: string;
  /** Items of `count` in the long-stream case (default 20,000). */
  longStream?: number;
}

class Feed {
  finallies = 0;
  produced = 0;
  bigProduced = 0;

  async *count(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  async *contextual(n: number) {
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setImmediate(r));
      const ctx = Plexus.context();
      yield `${ctx?.method}:${ctx?.attachments.who}:${i}`;
    }
  }
  async *failing(after: number) {
    for (let i = 0; i < after; i++) yield i;
    throw new RangeError('ran dry');
  }
  async *endless() {
    try {
      for (let i = 0; ; i++) {
        this.produced++;
        yield i;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      this.finallies++;
    }
  }
  async *big(size: number) {
    const item = 'x'.repeat(size);
    try {
      for (;;) {
        this.bigProduced++;
        yield item;
      }
    } finally {
      this.finallies++;
    }
  }
  async sum(items: AsyncIterable<number>) {
    let total = 0;
    for await (const n of items) total += n;
    return total;
  }
  async *doubled(items: AsyncIterable<number>) {
    for await (const n of items) yield n * 2;
  }
  stats() {
    return { finallies: this.finallies, produced: this.produced, bigProduced: this.bigProduced };
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* numbers(n: number) {
  for (let i = 1; i <= n; i++) yield i;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settle(check: () => Promise<boolean>, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(10);
  }
}

/**
 * The behaviour every protocol that carries streams must show (DESIGN §6 "Streaming"): a provider
 * and a consumer application on 127.0.0.1 (one application for `injvm`), server, client and
 * bidirectional streams, the call context inside generators, coded errors after the items, early
 * `break`, the deadline and the caller's signal over the whole stream, and flow control.
 */
export function streamingContract(protocol: string, options: StreamingContractOptions = {}): void {
  describe(`streaming contract: ${protocol}`, () => {
    const feed = new Feed();
    let provider: Plexus;
    let consumer: Plexus;
    let ref: StreamingFeed;
    /** Where generic calls go: the provider's URL, or nothing for injvm. */
    let target: { url?: string } = {};

    beforeAll(async () => {
      const plugins = options.plugins ? { plugins: options.plugins } : {};
      const methods = {
        count: { stream: true },
        contextual: { stream: true },
        failing: { stream: true },
        endless: { stream: true, timeout: 400 },
        big: { stream: true, timeout: 0 },
        doubled: { stream: true },
      };
      if (protocol === 'injvm') {
        provider = consumer = Plexus.create({
          ...plugins,
          application: { name: 'streaming-contract', handleSignals: false },
          logLevel: 'error',
          protocol: { name: 'injvm' },
          references: { feed: { interface: 'contract.Feed', timeout: 5000, methods } },
        });
        provider.provide({ interface: 'contract.Feed' }, feed);
        await provider.start();
      } else {
        provider = Plexus.create({
          ...plugins,
          application: { name: 'streaming-contract-provider', handleSignals: false },
          logLevel: 'error',
          protocol: { name: protocol, host: '127.0.0.1', port: 0, ...options.protocol },
        });
        provider.provide({ interface: 'contract.Feed' }, feed);
        await provider.start();
        const port = provider.exportedUrls()[0].port;
        target = { url: `${options.scheme ?? protocol}://127.0.0.1:${port}` };
        consumer = Plexus.create({
          ...plugins,
          application: { name: 'streaming-contract-consumer', handleSignals: false },
          logLevel: 'error',
          references: {
            feed: { interface: 'contract.Feed', timeout: 5000, retries: 0, url: target.url, methods },
          },
        });
        await consumer.start();
      }
      ref = consumer.reference<StreamingFeed>('feed') as unknown as StreamingFeed;
    });

    afterAll(async () => {
      if (consumer !== provider) await consumer?.stop();
      await provider?.stop();
    });

    it('a stream: true method returns an AsyncIterable of the items, in order', async () => {
      await expect(collect(ref.count(100))).resolves.toEqual(Array.from({ length: 100 }, (_, i) => i));
    });

    it('carries a long stream in order', async () => {
      const n = options.longStream ?? 20_000;
      let expected = 0;
      for await (const i of ref.count(n)) {
        if (i !== expected) throw new Error(`item ${expected} expected, got ${i}`);
        expected++;
      }
      expect(expected).toBe(n);
    });

    it('runs the generator inside the call context, between yields too', async () => {
      const items = await Plexus.withAttachments({ who: 'ada' }, () => collect(ref.contextual(3)));
      expect(items).toEqual(['contextual:ada:0', 'contextual:ada:1', 'contextual:ada:2']);
    });

    it('an error mid-stream arrives coded, after the items already sent', async () => {
      const seen: number[] = [];
      let caught: unknown;
      try {
        for await (const n of ref.failing(3)) seen.push(n);
      } catch (err) {
        caught = err;
      }
      expect(seen).toEqual([0, 1, 2]);
      expect(caught).toBeInstanceOf(RpcError);
      expect((caught as RpcError).code).toBe(RpcCode.SERVICE_ERROR);
      expect((caught as RpcError).message).toContain('ran dry');
    });

    it('break runs the provider generator finally', async () => {
      const before = feed.finallies;
      for await (const n of ref.endless()) if (n === 2) break;
      expect(await settle(async () => feed.finallies === before + 1)).toBe(true);
    });

    it('the deadline covers the whole stream: TIMEOUT after the items, and the generator stops', async () => {
      const before = feed.finallies;
      const seen: number[] = [];
      const started = Date.now();
      await expect(
        (async () => {
          for await (const n of ref.endless()) seen.push(n);
        })(),
      ).rejects.toMatchObject({ code: RpcCode.TIMEOUT });
      expect(Date.now() - started).toBeGreaterThanOrEqual(350);
      expect(seen.length).toBeGreaterThan(3);
      expect(await settle(async () => feed.finallies === before + 1)).toBe(true);
      const after = feed.produced;
      await sleep(60);
      expect(feed.produced).toBe(after);
    });

    it('an aborted signal ends the stream with CANCELLED and stops the generator', async () => {
      const ac = new AbortController();
      const before = feed.finallies;
      const seen: number[] = [];
      setTimeout(() => ac.abort(), 60);
      await expect(
        Plexus.withCallOptions({ signal: ac.signal, timeout: 0 }, async () => {
          for await (const n of ref.endless()) seen.push(n);
        }),
      ).rejects.toMatchObject({ code: RpcCode.CANCELLED });
      expect(seen.length).toBeGreaterThan(0);
      expect(await settle(async () => feed.finallies === before + 1)).toBe(true);
    });

    it('a slow reader slows the generator: what it produced stays within a bounded distance of what was read', async () => {
      const size = 16 * 1024;
      const before = feed.bigProduced;
      let read = 0;
      let worst = 0;
      for await (const item of ref.big(size)) {
        expect(item.length).toBe(size);
        read++;
        await sleep(2);
        worst = Math.max(worst, feed.bigProduced - before - read);
        if (read === 60) break;
      }
      // A 256 KiB window holds 16 such items; transports add a little. Unbounded would be thousands.
      expect(worst).toBeLessThan(100);
    });

    it('a client stream argument reaches the provider (one answer)', async () => {
      await expect(ref.sum(numbers(1000))).resolves.toBe(500500);
    });

    it('both ways at once: a bidirectional stream', async () => {
      await expect(collect(ref.doubled(numbers(50)))).resolves.toEqual(Array.from({ length: 50 }, (_, i) => (i + 1) * 2));
    });

    it('generic $stream streams without a declaration; $invoke resolves to the stream', async () => {
      await expect(collect(consumer.generic('contract.Feed', target).$stream<number>('count', [4]))).resolves.toEqual([0, 1, 2, 3]);
      const stream = await consumer.generic('contract.Feed', target).$invoke<AsyncIterable<number>>('count', [3]);
      await expect(collect(stream)).resolves.toEqual([0, 1, 2]);
    });

    it('a stream: true call answered with one value fails the first read, coded', async () => {
      await expect(collect(consumer.generic('contract.Feed', target).$stream('stats', []))).rejects.toMatchObject({
        code: RpcCode.BAD_RESPONSE,
        reason: 'PLEXUS_ERR_STREAM_NOT_A_STREAM',
      });
    });
  });
}

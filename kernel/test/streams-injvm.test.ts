import { Plexus, RpcCode, RpcError } from '../src';

interface Feed {
  count(n: number): AsyncIterable<number>;
  contextual(n: number): AsyncIterable<string>;
  failing(after: number): AsyncIterable<number>;
  endless(): AsyncIterable<number>;
  sum(items: AsyncIterable<number>): Promise<number>;
  doubled(items: AsyncIterable<number>): AsyncIterable<number>;
  finallyRuns(): number;
}

let finallies = 0;
let produced = 0;

class FeedImpl {
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
        produced++;
        yield i;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      finallies++;
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
  finallyRuns() {
    return finallies;
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

describe('streams through injvm', () => {
  let app: Plexus;
  beforeAll(async () => {
    app = Plexus.create({
      application: { name: 'stream-injvm' },
      protocol: { name: 'injvm' },
      references: {
        feed: {
          interface: 'demo.Feed',
          timeout: 2000,
          methods: {
            count: { stream: true },
            contextual: { stream: true },
            failing: { stream: true },
            endless: { stream: true, timeout: 300 },
            doubled: { stream: true },
          },
        },
      },
    });
    app.provide({ interface: 'demo.Feed' }, new FeedImpl());
    await app.start();
  });
  afterAll(() => app.stop());

  it('a method declared stream: true returns an AsyncIterable of the items, in order', async () => {
    const feed = app.reference<Feed>('feed');
    await expect(collect(feed.count(1000))).resolves.toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('runs the generator inside the call context, between yields too', async () => {
    const feed = app.reference<Feed>('feed');
    const items = await Plexus.withAttachments({ who: 'ada' }, () => collect(feed.contextual(3)));
    expect(items).toEqual(['contextual:ada:0', 'contextual:ada:1', 'contextual:ada:2']);
  });

  it('an error mid-stream arrives coded, after the items already sent', async () => {
    const feed = app.reference<Feed>('feed');
    const seen: number[] = [];
    let caught: unknown;
    try {
      for await (const n of feed.failing(3)) seen.push(n);
    } catch (err) {
      caught = err;
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(caught).toBeInstanceOf(RpcError);
    expect((caught as RpcError).code).toBe(RpcCode.SERVICE_ERROR);
    expect((caught as RpcError).message).toContain('ran dry');
  });

  it('break runs the provider generator finally', async () => {
    const feed = app.reference<Feed>('feed');
    const before = finallies;
    for await (const n of feed.endless()) if (n === 2) break;
    await new Promise((r) => setTimeout(r, 20));
    expect(finallies).toBe(before + 1);
  });

  it('the deadline covers the whole stream: TIMEOUT after the items, and the generator stops', async () => {
    const feed = app.reference<Feed>('feed');
    const before = finallies;
    const seen: number[] = [];
    const started = Date.now();
    await expect(
      (async () => {
        for await (const n of feed.endless()) seen.push(n);
      })(),
    ).rejects.toMatchObject({ code: RpcCode.TIMEOUT });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(seen.length).toBeGreaterThan(3);
    await new Promise((r) => setTimeout(r, 30));
    expect(finallies).toBe(before + 1);
    const after = produced;
    await new Promise((r) => setTimeout(r, 50));
    expect(produced).toBe(after);
  });

  it('an aborted signal ends the stream with CANCELLED', async () => {
    const feed = app.reference<Feed>('feed');
    const ac = new AbortController();
    const before = finallies;
    const seen: number[] = [];
    setTimeout(() => ac.abort(), 40);
    await expect(
      Plexus.withCallOptions({ signal: ac.signal, timeout: 0 }, async () => {
        for await (const n of feed.endless()) seen.push(n);
      }),
    ).rejects.toMatchObject({ code: RpcCode.CANCELLED });
    expect(seen.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(finallies).toBe(before + 1);
  });

  it('a client stream argument reaches the provider (unary answer)', async () => {
    const feed = app.reference<Feed>('feed');
    await expect(feed.sum(numbers(100))).resolves.toBe(5050);
  });

  it('both ways at once: a bidirectional stream', async () => {
    const feed = app.reference<Feed>('feed');
    await expect(collect(feed.doubled(numbers(5)))).resolves.toEqual([2, 4, 6, 8, 10]);
  });

  it('generic $stream streams without a declaration', async () => {
    const generic = app.generic('demo.Feed', {});
    await expect(collect(generic.$stream<number>('count', [4]))).resolves.toEqual([0, 1, 2, 3]);
  });

  it('an undeclared streaming method resolves to the stream', async () => {
    const generic = app.generic('demo.Feed', {});
    const stream = await generic.$invoke<AsyncIterable<number>>('count', [3]);
    await expect(collect(stream)).resolves.toEqual([0, 1, 2]);
  });

  it('a stream: true method that answers one value fails the first read with a coded error', async () => {
    const generic = app.generic('demo.Feed', {});
    await expect(collect(generic.$stream('finallyRuns', []))).rejects.toMatchObject({
      code: RpcCode.BAD_RESPONSE,
      reason: 'PLEXUS_ERR_STREAM_NOT_A_STREAM',
    });
  });
});

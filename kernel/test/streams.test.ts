import { InboundStream, RpcCode, RpcError, RpcStream, StreamPump, type StreamSink } from '../src/spi';
import { fakeInvocation } from '../src/testing';

const tick = () => new Promise((r) => setImmediate(r));

describe('InboundStream', () => {
  it('hands items over in order, then the end, whether they arrive before or after the read', async () => {
    const s = new InboundStream<number>();
    s.push(1, 1);
    const pending = s.next();
    s.push(2, 1);
    s.end();
    await expect(pending).resolves.toEqual({ done: false, value: 1 });
    await expect(s.next()).resolves.toEqual({ done: false, value: 2 });
    await expect(s.next()).resolves.toEqual({ done: true, value: undefined });
    await expect(s.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('reports when the writer is a window ahead, and when it ignores the window', () => {
    const s = new InboundStream<string>({}, 100);
    expect(s.push('a', 60)).toBe(true);
    expect(s.push('b', 60)).toBe(false);
    expect(s.buffered).toBe(120);
    expect(s.overflowing).toBe(false);
    s.push('c', 100);
    expect(s.overflowing).toBe(true);
  });

  it('gives credit back in batches of half the window as the reader takes items', async () => {
    const credits: number[] = [];
    const s = new InboundStream<number>({ credit: (b) => credits.push(b) }, 100);
    for (let i = 0; i < 10; i++) s.push(i, 20);
    for (let i = 0; i < 10; i++) await s.next();
    // 20 bytes per item: credit goes back once 60 (≥ half of 100) were read; the last 20 wait for more.
    expect(credits).toEqual([60, 60, 60]);
    expect(s.buffered).toBe(0);
  });

  it('a smaller credit step gives credit back sooner, in steps of that size', async () => {
    const credits: number[] = [];
    const s = new InboundStream<number>({ credit: (b) => credits.push(b) }, 100, 'consumer', 25);
    for (let i = 0; i < 10; i++) s.push(i, 10);
    for (let i = 0; i < 10; i++) await s.next();
    // 10 bytes per item: credit goes back once 30 (≥ 25) were read; the last 10 wait for more.
    expect(credits).toEqual([30, 30, 30]);
  });

  it('reads through nextInto without a promise: buffered items at once, later ones when pushed', () => {
    const s = new InboundStream<number>();
    const got: Array<IteratorResult<number> | string> = [];
    const waiter = { onNext: (r: IteratorResult<number>) => got.push(r), onNextError: (e: unknown) => got.push(`error ${(e as RpcError).code}`) };
    s.push(1, 1);
    s.nextInto(waiter);
    expect(got).toEqual([{ done: false, value: 1 }]);
    s.nextInto(waiter);
    expect(got).toHaveLength(1);
    s.nextInto(waiter);
    expect(got[1]).toBe(`error ${RpcCode.BAD_REQUEST}`); // a second read while one waits
    s.push(2, 1);
    s.error(new RpcError('boom', RpcCode.SERVICE_ERROR));
    s.nextInto(waiter);
    expect(got.slice(2)).toEqual([{ done: false, value: 2 }, `error ${RpcCode.SERVICE_ERROR}`]);
  });

  it('an error reaches the reader after the items already received', async () => {
    const s = new InboundStream<number>();
    s.push(1, 1);
    s.error(new RpcError('boom', RpcCode.SERVICE_ERROR));
    await expect(s.next()).resolves.toEqual({ done: false, value: 1 });
    await expect(s.next()).rejects.toMatchObject({ code: RpcCode.SERVICE_ERROR });
  });

  it('break tells the writer to stop once, with PLEXUS_ERR_STREAM_CLOSED, and drops what is buffered', async () => {
    const stops: RpcError[] = [];
    const s = new InboundStream<number>({ stop: (r) => stops.push(r) });
    s.push(1, 10);
    s.push(2, 10);
    for await (const _ of s) break;
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ code: RpcCode.CANCELLED, reason: 'PLEXUS_ERR_STREAM_CLOSED' });
    expect(s.buffered).toBe(0);
    s.push(3, 10);
    await expect(s.next()).resolves.toMatchObject({ done: true });
    expect(stops).toHaveLength(1);
  });

  it('follows its call: a cancel rejects a pending read at once with the reason and stops the writer', async () => {
    const stops: RpcError[] = [];
    const inv = fakeInvocation();
    const s = new InboundStream<number>({ stop: (r) => stops.push(r) }).follow(inv);
    const pending = s.next();
    inv.cancel(new RpcError('gone', RpcCode.NETWORK));
    await expect(pending).rejects.toMatchObject({ code: RpcCode.NETWORK });
    expect(stops.map((r) => r.code)).toEqual([RpcCode.NETWORK]);
  });

  it('holds to a deadline: TIMEOUT for the reader, the call cancelled', async () => {
    const inv = fakeInvocation();
    const s = new InboundStream<number>().follow(inv);
    s.holdTo(Date.now() + 30, 'consumer');
    await expect(s.next()).rejects.toMatchObject({ code: RpcCode.TIMEOUT });
    expect(inv.cancelled?.code).toBe(RpcCode.TIMEOUT);
  });

  it('refuses a second read while one is pending', async () => {
    const s = new InboundStream<number>();
    const first = s.next();
    await expect(s.next()).rejects.toMatchObject({ reason: 'PLEXUS_ERR_STREAM_CONCURRENT_READ' });
    s.push(1, 1);
    await expect(first).resolves.toEqual({ done: false, value: 1 });
  });
});

describe('RpcStream subclasses', () => {
  it('one that implements only read() (written before nextInto) still serves next() and a pump', async () => {
    class Countdown extends RpcStream<number> {
      constructor(private left: number) {
        super();
      }
      protected readerSide(): 'consumer' {
        return 'consumer';
      }
      protected override read(): Promise<IteratorResult<number>> {
        if (this.left === 0) {
          this.finish();
          return this.next();
        }
        return Promise.resolve({ done: false, value: this.left-- });
      }
      protected closedByReader(): void {}
      protected cancelled(): void {}
    }
    await expect(new Countdown(2).next()).resolves.toEqual({ done: false, value: 2 });
    const written: number[] = [];
    let ended = false;
    await new StreamPump(new Countdown(3), { write: (n) => written.push(n) > 0, end: () => (ended = true), error: (e) => { throw e; } }).start();
    expect(written).toEqual([3, 2, 1]);
    expect(ended).toBe(true);
  });
});

class WindowSink implements StreamSink<number> {
  written: number[] = [];
  ended = false;
  failure: RpcError | undefined;
  constructor(private room: number) {}
  write(item: number): boolean {
    this.written.push(item);
    return --this.room > 0;
  }
  end(): void {
    this.ended = true;
  }
  error(err: RpcError): void {
    this.failure = err;
  }
  grant(n: number): void {
    this.room += n;
  }
}

describe('StreamPump', () => {
  it('writes until the sink is full, waits for resume(), then goes on to the end', async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 10; i++) {
        pulled++;
        yield i;
      }
    }
    const sink = new WindowSink(3);
    const pump = new StreamPump(source(), sink);
    const done = pump.start();
    for (let i = 0; i < 10; i++) await tick();
    expect(sink.written).toEqual([0, 1, 2]);
    expect(pulled).toBe(3);
    sink.grant(100);
    pump.resume();
    await done;
    expect(sink.written).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sink.ended).toBe(true);
  });

  it('a source error becomes the call\'s coded SERVICE_ERROR, after the items', async () => {
    async function* source() {
      yield 1;
      throw new TypeError('bad item');
    }
    const errors: RpcError[] = [];
    const sink: StreamSink<number> & { items: number[] } = {
      items: [],
      write(item) {
        this.items.push(item);
        return true;
      },
      end: () => errors.push(new RpcError('ended instead', RpcCode.UNKNOWN)),
      error: (e) => errors.push(e),
    };
    await new StreamPump(source(), sink, fakeInvocation()).start();
    expect(sink.items).toEqual([1]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: RpcCode.SERVICE_ERROR, message: 'bad item' });
  });

  it('stop() ends it from outside: the generator finally runs and nothing more is written', async () => {
    let finallies = 0;
    async function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        finallies++;
      }
    }
    const sink = new WindowSink(2);
    const pump = new StreamPump(source(), sink);
    const done = pump.start();
    await tick();
    pump.stop();
    await done;
    await tick();
    expect(finallies).toBe(1);
    expect(sink.written).toEqual([0, 1]);
    expect(sink.ended).toBe(false);
    expect(pump.done).toBe(true);
  });

  it('a source with its items already buffered is read in a loop, not by recursion', async () => {
    const s = new InboundStream<number>({}, 1 << 30);
    for (let i = 0; i < 100_000; i++) s.push(i, 1);
    s.end();
    let n = 0;
    let ended = false;
    const sink: StreamSink<number> = {
      write: (item) => {
        if (item !== n) throw new Error(`item ${n} expected, got ${item}`);
        n++;
        return true;
      },
      end: () => (ended = true),
      error: (e) => {
        throw e;
      },
    };
    await new StreamPump(s, sink).start();
    expect(n).toBe(100_000);
    expect(ended).toBe(true);
  });

  it('a sink that throws on write (an item it cannot encode) fails the stream with that error', async () => {
    async function* source() {
      yield 1;
      yield 2;
    }
    const got: RpcError[] = [];
    const sink: StreamSink<number> = {
      write: (item) => {
        if (item === 2) throw new RpcError('cannot encode', RpcCode.SERIALIZATION);
        return true;
      },
      end: () => undefined,
      error: (e) => got.push(e),
    };
    await new StreamPump(source(), sink).start();
    expect(got.map((e) => e.code)).toEqual([RpcCode.SERIALIZATION]);
  });
});

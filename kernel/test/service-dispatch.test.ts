import { ServiceRuntime } from '../src/app/service-runtime';
import { MethodTable } from '../src/pipeline/method-table';
import { callStorage } from '../src/pipeline/call-context';

const currentContext = () => callStorage.getStore();
import { URL } from '../src/url/url';
import { RpcCode, RpcError } from '../src/errors/rpc-error';
import type { Executor } from '../src/spi/executor';
import type { Filter } from '../src/spi/filter';
import type { Invocation } from '../src/spi/invocation';
import type { CallReply } from '../src/spi/protocol';
import type { Result } from '../src/spi/result';

/** An executor that runs calls now and counts them; `inline` only when asked to offer it. */
class CountingExecutor implements Executor {
  entered = 0;
  left = 0;
  executed = 0;
  readonly inline?: { enter(): void; leave(): void };
  constructor(offerInline: boolean) {
    if (offerInline) this.inline = { enter: () => void this.entered++, leave: () => void this.left++ };
  }
  get active(): number {
    return this.entered - this.left;
  }
  execute(inv: Invocation, task: (inv: Invocation) => Promise<Result>): Promise<Result> {
    this.executed++;
    return task(inv);
  }
}

const impl = {
  add(a: number, b: number) {
    return a + b;
  },
  async later(v: string) {
    await new Promise((r) => setTimeout(r, 5));
    return `${v}:${currentContext()?.attachments.who}`;
  },
  who() {
    return currentContext()?.attachments.who;
  },
  boom() {
    throw new Error('sync boom');
  },
  async rejects() {
    throw new Error('async boom');
  },
  slow() {
    return new Promise((r) => setTimeout(() => r('late'), 300));
  },
  tagged(v: string) {
    currentContext()!.responseAttachments.served = `by-${v}`;
    return v;
  },
  async taggedLater(v: string) {
    await new Promise((r) => setTimeout(r, 2));
    currentContext()!.responseAttachments.served = `later-${v}`;
    return v;
  },
};

function runtime(executor: Executor, filters: Filter[] = [], timeout = 0): ServiceRuntime {
  const table = new MethodTable('test.Svc', impl);
  const url = new URL('plexus', '127.0.0.1', 1, 'test.Svc', {});
  return new ServiceRuntime(url, { interface: 'test.Svc' } as never, table, [{ timeout }], filters, executor);
}

type Outcome = { value?: unknown; error?: RpcError; sync: boolean; attachments?: Record<string, string> };

/**
 * A reply with prototype methods that use `this`, as the SPI allows: every path of the kernel must
 * call them on the reply (a handler passed on detached would lose `this` and fail these tests).
 */
class RecordingReply implements CallReply {
  returned = false;
  constructor(private readonly done: (outcome: Outcome) => void) {}
  resolved(r: Result): void {
    this.done({ value: r.value, sync: !this.returned, ...(r.attachments ? { attachments: r.attachments } : {}) });
  }
  rejected(e: unknown): void {
    this.done({ error: e as RpcError, sync: !this.returned });
  }
}

/** Dispatches one call and resolves with what the reply was told (and whether it was synchronous). */
function dispatch(rt: ServiceRuntime, method: string, args: unknown[], attachments: Record<string, string> = {}) {
  return new Promise<Outcome>((resolve) => {
    const reply = new RecordingReply(resolve);
    const inv = rt.createInvocation({ method, args, attachments, remoteAddress: '127.0.0.1:1' });
    rt.dispatch(inv, reply);
    reply.returned = true;
  });
}

describe('ServiceRuntime.dispatch', () => {
  it('answers a synchronous method before dispatch returns, in the call context, and counts it in and out', async () => {
    const ex = new CountingExecutor(true);
    const rt = runtime(ex);
    expect(await dispatch(rt, 'add', [2, 3])).toEqual({ value: 5, sync: true });
    expect(await dispatch(rt, 'who', [], { who: 'ada' })).toEqual({ value: 'ada', sync: true });
    expect(ex.executed).toBe(0);
    expect([ex.entered, ex.left]).toEqual([2, 2]);
  });

  it('keeps the context across awaits and counts the call out only when the promise settles', async () => {
    const ex = new CountingExecutor(true);
    const rt = runtime(ex);
    const pending = dispatch(rt, 'later', ['x'], { who: 'bob' });
    expect(ex.active).toBe(1);
    expect(await pending).toEqual({ value: 'x:bob', sync: false });
    expect(ex.active).toBe(0);
  });

  it('turns sync throws and async rejections into SERVICE_ERROR and still counts the call out', async () => {
    const ex = new CountingExecutor(true);
    const rt = runtime(ex);
    const a = await dispatch(rt, 'boom', []);
    const b = await dispatch(rt, 'rejects', []);
    expect(a.error).toBeInstanceOf(RpcError);
    expect([a.error!.code, a.error!.message]).toEqual([RpcCode.SERVICE_ERROR, 'sync boom']);
    expect([b.error!.code, b.error!.message]).toEqual([RpcCode.SERVICE_ERROR, 'async boom']);
    expect(ex.active).toBe(0);
  });

  it('holds an async method to the provider timeout (SERVER_TIMEOUT) but counts it out only when it really ends', async () => {
    const ex = new CountingExecutor(true);
    const rt = runtime(ex, [], 50);
    const r = await dispatch(rt, 'slow', []);
    expect(r.error!.code).toBe(RpcCode.SERVER_TIMEOUT);
    expect(ex.active).toBe(1);
    await new Promise((res) => setTimeout(res, 350));
    expect(ex.active).toBe(0);
  });

  it('sends back what the method put in responseAttachments, on every path; none when it put nothing', async () => {
    for (const offerInline of [true, false]) {
      const rt = runtime(new CountingExecutor(offerInline));
      expect(await dispatch(rt, 'tagged', ['a'])).toMatchObject({ value: 'a', attachments: { served: 'by-a' } });
      expect(await dispatch(rt, 'taggedLater', ['b'])).toMatchObject({ value: 'b', attachments: { served: 'later-b' } });
      expect(await dispatch(rt, 'add', [1, 1])).not.toHaveProperty('attachments');
    }
  });

  it('goes through execute when the executor offers no inline form, or when a filter runs', async () => {
    const plain = new CountingExecutor(false);
    expect(await dispatch(runtime(plain), 'add', [1, 1])).toEqual({ value: 2, sync: false });
    expect(plain.executed).toBe(1);

    const seen: string[] = [];
    const filter: Filter = { invoke: (next, inv) => (seen.push(inv.method), next.invoke(inv)) };
    const inline = new CountingExecutor(true);
    expect((await dispatch(runtime(inline, [filter]), 'add', [1, 2])).value).toBe(3);
    expect(seen).toEqual(['add']);
    expect([inline.executed, inline.entered]).toEqual([1, 0]);
  });
});

describe('ServiceRuntime.dispatch with interceptor filters', () => {
  /** A filter with an interceptor that logs what it hears, and an invoke that must not be used inline. */
  function logging(name: string, log: string[], opts: { refuse?: boolean; wait?: boolean } = {}): Filter {
    const interceptor = {
      before: (inv: Invocation): void | Promise<void> => {
        log.push(`${name}.before ${inv.method}`);
        if (opts.refuse) throw new RpcError(`${name} refuses`, RpcCode.LIMIT_EXCEEDED);
        if (opts.wait) return new Promise<void>((r) => setTimeout(r, 5));
        return undefined;
      },
      after: (inv: Invocation, error: unknown, elapsed: number) => {
        log.push(`${name}.after ${inv.method} ${error === undefined ? 'ok' : (error as RpcError).code}${elapsed >= 0 ? '' : ' negative!'}`);
      },
    };
    return {
      interceptor,
      invoke: () => {
        log.push(`${name}.invoke`);
        return Promise.reject(new Error('the chain was used'));
      },
    };
  }

  it('runs interceptors around the method inline: befores in order, afters in reverse, a sync answer with no promise', async () => {
    const log: string[] = [];
    const ex = new CountingExecutor(true);
    const rt = runtime(ex, [logging('a', log), logging('b', log)]);
    expect(await dispatch(rt, 'add', [2, 3])).toEqual({ value: 5, sync: true });
    expect(log).toEqual(['a.before add', 'b.before add', 'b.after add ok', 'a.after add ok']);
    expect(ex.executed).toBe(0);
  });

  it('tells the afters of an async method when it settles, with the coded error of a failure', async () => {
    const log: string[] = [];
    const rt = runtime(new CountingExecutor(true), [logging('a', log)]);
    expect((await dispatch(rt, 'later', ['x'], { who: 'z' })).value).toBe('x:z');
    const failed = await dispatch(rt, 'rejects', []);
    expect(failed.error!.code).toBe(RpcCode.SERVICE_ERROR);
    expect(log).toEqual(['a.before later', 'a.after later ok', 'a.before rejects', 'a.after rejects SERVICE_ERROR']);
  });

  it('a before that refuses answers its error: the method does not run, only earlier interceptors hear after', async () => {
    const log: string[] = [];
    const rt = runtime(new CountingExecutor(true), [logging('a', log), logging('b', log, { refuse: true }), logging('c', log)]);
    const r = await dispatch(rt, 'add', [1, 1]);
    expect(r.error!.code).toBe(RpcCode.LIMIT_EXCEEDED);
    expect(log).toEqual(['a.before add', 'b.before add', 'a.after add LIMIT_EXCEEDED']);
  });

  it('a before that answers with a promise is awaited before the rest and the method', async () => {
    const log: string[] = [];
    const rt = runtime(new CountingExecutor(true), [logging('a', log, { wait: true }), logging('b', log)]);
    expect(await dispatch(rt, 'add', [4, 4])).toEqual({ value: 8, sync: false });
    expect(log).toEqual(['a.before add', 'b.before add', 'b.after add ok', 'a.after add ok']);
  });

  it('runs the method inside every around, the first interceptor outermost, on the sync and async paths', async () => {
    const log: string[] = [];
    const wrapping = (name: string): Filter => ({
      interceptor: {
        before: () => undefined,
        around: (inv, proceed) => {
          log.push(`${name}.in ${inv.method}`);
          const out = proceed();
          log.push(`${name}.out`);
          return out;
        },
        after: () => undefined,
      },
      invoke: () => Promise.reject(new Error('the chain was used')),
    });
    const rt = runtime(new CountingExecutor(true), [wrapping('a'), wrapping('b')]);
    expect(await dispatch(rt, 'who', [], { who: 'ctx-kept' })).toEqual({ value: 'ctx-kept', sync: true });
    expect(log).toEqual(['a.in who', 'b.in who', 'b.out', 'a.out']);
    log.length = 0;
    const slow = logging('w', log, { wait: true });
    const rt2 = runtime(new CountingExecutor(true), [slow, wrapping('a')]);
    expect((await dispatch(rt2, 'add', [1, 1])).value).toBe(2);
    expect(log).toEqual(['w.before add', 'a.in add', 'a.out', 'w.after add ok']);
  });

  it('one filter without an interceptor puts every call back on the chain', async () => {
    const log: string[] = [];
    const plain: Filter = { invoke: (next, inv) => (log.push('plain'), next.invoke(inv)) };
    const ex = new CountingExecutor(true);
    const rt = runtime(ex, [plain, logging('a', log)]);
    expect((await dispatch(rt, 'add', [1, 2])).error?.message).toBe('the chain was used');
    expect(log).toEqual(['plain', 'a.invoke']);
  });
});

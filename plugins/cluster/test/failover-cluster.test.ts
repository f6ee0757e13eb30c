import {
  clusterContract,
  fakeClusterSupport,
  fakeDirectory,
  fakeInvocation,
  fakeProviders,
  FakeInvoker,
  FakeLoadBalance,
  HookedLoadBalance,
} from '@plexus/kernel/testing';
import { RpcCode, RpcError, type Invoker } from '@plexus/kernel/spi';
import plugin, { FailoverCluster } from '../src/failover-cluster';
import { NO_PROVIDER_REASON } from '../src/select';

clusterContract('failover', () => new FailoverCluster());

const network = (where: string) => new RpcError(`connection to ${where} reset`, RpcCode.NETWORK);
const failing = (url: string, error: unknown) => new FakeInvoker(url, { error });
const ok = (url: string, value: unknown = url) => new FakeInvoker(url, { value });
const A = 'plexus://10.0.0.1:20880/demo.Greeter';
const B = 'plexus://10.0.0.2:20880/demo.Greeter';
const C = 'plexus://10.0.0.3:20880/demo.Greeter';

function join(invokers: Invoker[], lb = new FakeLoadBalance()) {
  return new FailoverCluster().join(fakeDirectory(invokers), fakeClusterSupport(lb));
}

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: RpcError) => e,
  );
}

describe('FailoverCluster', () => {
  it('is the plugin default export under cluster/failover', () => {
    expect(plugin.extensions[0]).toMatchObject({ point: 'cluster', name: 'failover' });
    expect(plugin.extensions[0].create({} as never)).toBeInstanceOf(FailoverCluster);
  });

  it('retries a retryable error on another provider, keeping what it tried to itself', async () => {
    const a = failing(A, network('a'));
    const b = ok(B, 'from b');
    const inv = fakeInvocation({ settings: { retries: 2 } });
    await expect(join([a, b]).invoke(inv)).resolves.toEqual({ value: 'from b' });
    expect(a.calls).toBe(1);
    expect(b.calls).toBe(1);
    expect(b.invocations[0]).toBe(inv);
    expect(Object.keys(inv)).not.toContain('tried');
  });

  it('makes retries + 1 attempts, then throws the last error saying how many providers it tried', async () => {
    const invokers = [A, B, C, 'plexus://10.0.0.4:20880/demo.Greeter'].map((u, i) => failing(u, network(String(i))));
    const err = await rejection(join(invokers).invoke(fakeInvocation({ settings: { retries: 2 } })));
    expect(invokers.map((i) => i.calls)).toEqual([1, 1, 1, 0]);
    expect(err.code).toBe(RpcCode.NETWORK);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('3 attempts on 3 providers');
    expect(err.message).toContain('connection to 2 reset');
    expect(err.cause).toBeInstanceOf(RpcError);
  });

  it('keeps the reason of the last error', async () => {
    const exhausted = new RpcError('full', RpcCode.EXECUTOR_EXHAUSTED, { reason: 'PLEXUS_ERR_EXECUTOR_EXHAUSTED' });
    const err = await rejection(join([failing(A, exhausted), failing(B, exhausted)]).invoke(fakeInvocation({ settings: { retries: 1 } })));
    expect(err.code).toBe(RpcCode.EXECUTOR_EXHAUSTED);
    expect(err.reason).toBe('PLEXUS_ERR_EXECUTOR_EXHAUSTED');
  });

  it('with retries 0 makes one attempt and passes the error through as it is', async () => {
    const error = network('a');
    const a = failing(A, error);
    const b = ok(B);
    await expect(join([a, b]).invoke(fakeInvocation({ settings: { retries: 0 } }))).rejects.toBe(error);
    expect(b.calls).toBe(0);
  });

  it('never retries a method marked idempotent: false', async () => {
    const error = new RpcError('timed out', RpcCode.TIMEOUT);
    const a = failing(A, error);
    const b = ok(B);
    await expect(join([a, b]).invoke(fakeInvocation({ settings: { retries: 5, idempotent: false } }))).rejects.toBe(error);
    expect(a.calls + b.calls).toBe(1);
  });

  it('never retries a business error, even one marked retryable', async () => {
    const error = new RpcError('insufficient funds', RpcCode.SERVICE_ERROR, { retryable: true });
    const a = failing(A, error);
    const b = ok(B);
    await expect(join([a, b]).invoke(fakeInvocation({ settings: { retries: 3 } }))).rejects.toBe(error);
    expect(b.calls).toBe(0);
  });

  it('does not retry errors that are not retryable, nor foreign errors', async () => {
    const bad = new RpcError('bad request', RpcCode.BAD_REQUEST);
    const b = ok(B);
    await expect(join([failing(A, bad), b]).invoke(fakeInvocation())).rejects.toBe(bad);
    const foreign = new TypeError('oops');
    await expect(join([failing(A, foreign), b]).invoke(fakeInvocation())).rejects.toBe(foreign);
    expect(b.calls).toBe(0);
  });

  it('passes a business error from a later attempt through unchanged', async () => {
    const business = new RpcError('no such user', RpcCode.SERVICE_ERROR);
    const c = ok(C);
    await expect(join([failing(A, network('a')), failing(B, business), c]).invoke(fakeInvocation())).rejects.toBe(business);
    expect(c.calls).toBe(0);
  });

  it('stops retrying once the deadline has passed', async () => {
    const deadline = Date.now() + 60_000;
    const inv = fakeInvocation({ settings: { retries: 5 }, deadline });
    // The first provider fails after the deadline has (for the cluster) passed.
    const a = new FakeInvoker(A, {
      handler: () => {
        inv.deadline = Date.now() - 1;
        throw new RpcError('timed out', RpcCode.TIMEOUT);
      },
    });
    const b = ok(B);
    const err = await rejection(join([a, b]).invoke(inv));
    expect(b.calls).toBe(0);
    expect(err.code).toBe(RpcCode.TIMEOUT);
    expect(err.message).toContain('deadline passed');
  });

  it('re-reads the directory before each retry and stops when it is empty', async () => {
    const directory = fakeDirectory([]);
    const a = new FakeInvoker(A, {
      handler: () => {
        directory.invokers = [];
        throw network('a');
      },
    });
    directory.invokers = [a, ok(B)];
    const invoker = new FailoverCluster().join(directory, fakeClusterSupport());
    const err = await rejection(invoker.invoke(fakeInvocation()));
    expect(err.code).toBe(RpcCode.NETWORK);
    expect(err.message).toContain('no provider is left');
  });

  it('retries the same provider when it is the only one', async () => {
    let calls = 0;
    const a = new FakeInvoker(A, {
      handler: () => {
        if (++calls < 3) throw network('a');
        return { value: 'third time' };
      },
    });
    await expect(join([a]).invoke(fakeInvocation({ settings: { retries: 2 } }))).resolves.toEqual({ value: 'third time' });
  });

  it('moves on from the last failed provider when all have been tried', async () => {
    const a = failing(A, network('a'));
    const b = failing(B, network('b'));
    // A balancer that picks a once, then always b: the third attempt must not repeat b.
    let selections = 0;
    const lb = new FakeLoadBalance(() => (selections++ === 0 ? a : b));
    const err = await rejection(join([a, b], lb).invoke(fakeInvocation({ settings: { retries: 2 } })));
    expect(err.message).toContain('3 attempts on 2 providers');
    expect(a.calls).toBe(2);
    expect(b.calls).toBe(1);
  });

  it('skips unavailable providers, unless none is available', async () => {
    const a = ok(A);
    a.available = false;
    const b = ok(B);
    await expect(join([a, b]).invoke(fakeInvocation())).resolves.toEqual({ value: B });
    b.available = false;
    await expect(join([a, b]).invoke(fakeInvocation())).resolves.toEqual({ value: A });
  });

  it('rejects an empty directory with NO_PROVIDER, its reason and a hint', async () => {
    const err = await rejection(join([]).invoke(fakeInvocation({ version: '1.0.0' })));
    expect(err.code).toBe(RpcCode.NO_PROVIDER);
    expect(err.reason).toBe(NO_PROVIDER_REASON);
    expect(err.message).toContain('demo.Greeter:1.0.0');
    expect(err.message).toContain('hint:');
  });

  it('runs concurrent calls of one invocation without shared per-attempt state', async () => {
    // forking/broadcast will run attempts of one invocation at once: nothing may be written to it.
    const inv = fakeInvocation({ settings: { retries: 2 } });
    const a = failing(A, network('a'));
    const b = ok(B, 'from b');
    const cluster = join([a, b]);
    const results = await Promise.all([cluster.invoke(inv), cluster.invoke(inv), cluster.invoke(inv)]);
    expect(results.every((r) => r.value === 'from b')).toBe(true);
    expect(b.calls).toBe(3);
  });

  it('turns a throwing directory into a rejection', async () => {
    const directory = fakeDirectory([]);
    directory.list = () => {
      throw new RpcError('router broke', RpcCode.UNKNOWN);
    };
    const invoker = new FailoverCluster().join(directory, fakeClusterSupport());
    await expect(invoker.invoke(fakeInvocation())).rejects.toMatchObject({ message: 'router broke' });
  });

  it('reports availability through its directory, and leaves the directory to the reference when destroyed', async () => {
    const directory = fakeDirectory([ok(A)]);
    const invoker = new FailoverCluster().join(directory, fakeClusterSupport());
    expect(invoker.isAvailable?.()).toBe(true);
    directory.invokers = [];
    expect(invoker.isAvailable?.()).toBe(false);
    // The kernel destroys each joined invoker, then the directory itself (shared by every policy of the reference).
    await invoker.destroy?.();
    expect(directory.destroyed).toBe(false);
  });
});

describe('FailoverCluster error summary', () => {
  it('keeps every distinct cause and says each hint once', async () => {
    const refused = new RpcError('cannot connect to 10.0.0.1: ECONNREFUSED\n  hint: start the provider', RpcCode.NETWORK);
    const reconnecting = new RpcError('not connected to 10.0.0.2 (reconnecting)\n  hint: start the provider', RpcCode.NETWORK);
    const a = new FakeInvoker('plexus://10.0.0.1:20880/demo.Greeter', { error: refused });
    const b = new FakeInvoker('plexus://10.0.0.2:20880/demo.Greeter', { error: reconnecting });
    const invoker = new FailoverCluster().join(fakeDirectory([a, b]), fakeClusterSupport());
    const err = (await invoker.invoke(fakeInvocation({ settings: { retries: 1 } })).catch((e: unknown) => e)) as RpcError;
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('reconnecting');
    expect(err.message.match(/hint: start the provider/g)).toHaveLength(1);
  });
});

describe('FailoverCluster and the issue-9 cases', () => {
  it('twenty business errors cost exactly twenty provider invocations with retries 2', async () => {
    const business = new RpcError('insufficient funds', RpcCode.SERVICE_ERROR);
    const invokers = [A, B, C].map((u) => failing(u, business));
    let turn = 0;
    const invoker = join(invokers, new FakeLoadBalance((list) => list[turn++ % list.length]));
    for (let i = 0; i < 20; i++) await expect(invoker.invoke(fakeInvocation({ settings: { retries: 2 } }))).rejects.toBe(business);
    expect(invokers.reduce((n, i) => n + i.calls, 0)).toBe(20);
  });

  it('hides a provider that times out (retryable TIMEOUT): the call succeeds on another', async () => {
    const timedOut = failing(A, new RpcError('no answer from 10.0.0.1:20880 in time', RpcCode.TIMEOUT));
    const b = ok(B, 'from b');
    const invoker = join([timedOut, b]);
    for (let i = 0; i < 5; i++) await expect(invoker.invoke(fakeInvocation({ settings: { retries: 2 } }))).resolves.toEqual({ value: 'from b' });
    expect(timedOut.calls).toBe(5);
  });

  it('calls the hooks of a balancer once per attempt, on each provider tried', async () => {
    const lb = new HookedLoadBalance();
    const a = failing(A, network('a'));
    const b = failing(B, network('b'));
    const c = ok(C);
    await expect(join([a, b, c], lb).invoke(fakeInvocation({ settings: { retries: 2 } }))).resolves.toEqual({ value: C });
    for (const i of [a, b, c]) {
      expect(lb.startedOn(i)).toBe(1);
      expect(lb.finishedOn(i)).toBe(1);
    }
    expect(lb.failures).toEqual([true, true, false]);
    expect(lb.unmatched).toEqual([]);
  });

  it('rejects the call, never throws, when a balancer hook throws', async () => {
    const lb = new FakeLoadBalance();
    (lb as unknown as { started: () => void }).started = () => {
      throw new Error('balancer bug');
    };
    await expect(join([ok(A), ok(B)], lb).invoke(fakeInvocation({ settings: { retries: 0 } }))).rejects.toThrow('balancer bug');
  });

  it('stops retrying once the caller cancelled the call, and says so', async () => {
    const inv = fakeInvocation({ settings: { retries: 5 } });
    const a = new FakeInvoker(A, {
      handler: () => {
        inv.cancel(new RpcError('aborted by the caller', RpcCode.CANCELLED));
        throw network('a');
      },
    });
    const b = ok(B);
    const err = await rejection(join([a, b]).invoke(inv));
    expect(b.calls).toBe(0);
    expect(err.message).toContain('cancelled (CANCELLED)');
  });
});

describe('FailoverCluster success path', () => {
  it('with retries 0 and no balancer hooks, hands back the provider’s own promise', () => {
    const answer = Promise.resolve({ value: 'x' });
    const a = ok(A);
    (a as unknown as { invoke: () => Promise<unknown> }).invoke = () => answer;
    expect(join([a]).invoke(fakeInvocation({ settings: { retries: 0 } }))).toBe(answer);
  });
});

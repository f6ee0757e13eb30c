import { RpcCode, RpcError } from '../src/errors/rpc-error';

describe('RpcError', () => {
  it('marks transport-level codes retryable and business errors not', () => {
    expect(new RpcError('x', RpcCode.NETWORK).retryable).toBe(true);
    expect(new RpcError('x', RpcCode.SHUTTING_DOWN).retryable).toBe(true);
    expect(new RpcError('x', RpcCode.SERVICE_ERROR).retryable).toBe(false);
    expect(new RpcError('x', RpcCode.SERVICE_ERROR, { retryable: true }).retryable).toBe(true);
  });

  it('wraps anything with from() and keeps RpcErrors as they are', () => {
    const e = new RpcError('a', RpcCode.TIMEOUT);
    expect(RpcError.from(e)).toBe(e);
    const t = RpcError.from(new TypeError('bad'), RpcCode.SERVER_ERROR);
    expect(t.code).toBe(RpcCode.SERVER_ERROR);
    expect(t.remoteName).toBe('TypeError');
    expect(RpcError.from('plain').message).toBe('plain');
  });

  it('has a wire form without a stack unless asked, and rebuilds from it', () => {
    const e = new RpcError('boom', RpcCode.SERVICE_ERROR, { data: { code: 42 }, reason: 'PLEXUS_ERR_X_Y' });
    e.remoteName = 'ValidationError';
    const wire = e.toWire();
    expect(wire.stack).toBeUndefined();
    expect(e.toWire(true).stack).toContain('boom');
    const back = RpcError.fromWire(JSON.parse(JSON.stringify(wire)), '127.0.0.1:1');
    expect(back.code).toBe(RpcCode.SERVICE_ERROR);
    expect(back.message).toBe('boom');
    expect(back.remoteName).toBe('ValidationError');
    expect(back.data).toEqual({ code: 42 });
    expect(back.remote).toBe('127.0.0.1:1');
  });

  it('turns unknown wire codes into UNKNOWN and survives garbage', () => {
    expect(RpcError.fromWire({ code: 'NOPE', message: 'm' }).code).toBe(RpcCode.UNKNOWN);
    expect(RpcError.fromWire(null).message).toMatch(/without a message/);
  });

  it('is recognised across copies by brand', () => {
    const e = new RpcError('x');
    expect(RpcError.is(e)).toBe(true);
    expect(RpcError.is(new Error('x'))).toBe(false);
    expect(RpcError.is({ code: 'TIMEOUT' })).toBe(false);
  });
});

describe('RpcError.fromThrown / from: whatever was thrown becomes a coded error, and never throws', () => {
  /** A Proxy that throws on every trap, `typeof` aside. */
  function hostileProxy(): object {
    const trap = () => {
      throw new Error('trap');
    };
    return new Proxy({}, { get: trap, has: trap, ownKeys: trap, getPrototypeOf: trap, getOwnPropertyDescriptor: trap, apply: trap, set: trap, defineProperty: trap });
  }

  function nullProtoCircular(): object {
    const o = Object.create(null) as Record<string, unknown>;
    o.self = o;
    o.list = [o];
    return o;
  }

  const throwingGetters = (): Error => {
    const e = new Error('original');
    // stack first: redefining it formats the pending stack trace, which reads `name`
    for (const key of ['stack', 'name', 'message', 'code']) {
      Object.defineProperty(e, key, {
        get() {
          throw new Error(`getter ${key}`);
        },
      });
    }
    return e;
  };

  const cases: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
    ['an Error whose name, message, code and stack getters throw', throwingGetters, /without a message/],
    ['a Proxy that throws on every trap', hostileProxy, /without a message/],
    ['a null-prototype circular object', nullProtoCircular, /\[circular\]/],
    ['a thenable whose then throws', () => ({ then() { throw nullProtoCircular(); } }), /^\{\}$|without a message/],
    ['a Symbol', () => Symbol('boom'), /^Symbol\(boom\)$/],
    ['a BigInt', () => 12345678901234567890n, /^12345678901234567890n$/],
    ['undefined', () => undefined, /^undefined$/],
    ['null', () => null, /^null$/],
    ['a function', () => function namedThing() {}, /^a function namedThing$/],
  ];

  it.each(cases)('%s', (_label, make, message) => {
    const value = make();
    for (const convert of [() => RpcError.fromThrown(value), () => RpcError.from(value, RpcCode.SERVER_ERROR)]) {
      let err: RpcError | undefined;
      expect(() => (err = convert())).not.toThrow();
      expect(RpcError.is(err)).toBe(true);
      expect(typeof err!.message).toBe('string');
      expect(err!.message).toMatch(message);
      // what the protocol then does with it must not throw either
      expect(() => JSON.stringify(err!.toWire(true))).not.toThrow();
    }
    expect(RpcError.fromThrown(value).code).toBe(RpcCode.SERVICE_ERROR);
    expect(RpcError.from(value, RpcCode.SERVER_ERROR).code).toBe(RpcCode.SERVER_ERROR);
  });

  it('keeps message and code of a thrown plain object (not "[object Object]")', () => {
    const err = RpcError.fromThrown({ code: 'E_STOCK', message: 'out of stock', name: 'StockError' });
    expect(err.message).toBe('out of stock');
    expect(err.data).toEqual({ code: 'E_STOCK' });
    expect(err.remoteName).toBe('StockError');
    expect(RpcError.fromThrown({ code: 42, message: 'numbered' }).data).toEqual({ code: 42 });
  });

  it('keeps an Error\'s name, message, code and stack, and an RpcError as it is', () => {
    const e = Object.assign(new RangeError('too far'), { code: 'E_RANGE' });
    const err = RpcError.fromThrown(e);
    expect([err.message, err.remoteName, err.data]).toEqual(['too far', 'RangeError', { code: 'E_RANGE' }]);
    expect(err.stack).toBe(e.stack);
    expect(err.cause).toBe(e);
    expect(RpcError.fromThrown(new Error('plain')).remoteName).toBeUndefined();
    const rpc = new RpcError('mine', RpcCode.LIMIT_EXCEEDED);
    expect(RpcError.fromThrown(rpc)).toBe(rpc);
  });

  it('describes an object without a message by a bounded JSON view', () => {
    expect(RpcError.fromThrown({ reason: 'x', n: 2n }).message).toBe('{"reason":"x","n":"2n"}');
    const huge = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`key${i}`, 'v'.repeat(100)]));
    // Bounded by the members it reads, not by the clock: count them through a proxy.
    let reads = 0;
    const counted = new Proxy(huge, {
      get(target, key, receiver) {
        reads++;
        return Reflect.get(target, key, receiver);
      },
    });
    const err = RpcError.fromThrown(counted);
    expect(reads).toBeLessThan(1000);
    expect(err.message.length).toBeLessThanOrEqual(201);
  });

  it('ignores a code that is neither a string nor a finite number', () => {
    expect(RpcError.fromThrown({ message: 'm', code: { nested: true } }).data).toBeUndefined();
    expect(RpcError.fromThrown({ message: 'm', code: NaN }).data).toBeUndefined();
  });
});

describe('retryable across the wire', () => {
  it('carries a retryable flag that differs from the code default, never for a business error', () => {
    const limited = new RpcError('too many', RpcCode.LIMIT_EXCEEDED, { retryable: true });
    const wire = limited.toWire();
    expect(wire.retryable).toBe(true);
    expect(RpcError.fromWire(JSON.parse(JSON.stringify(wire))).retryable).toBe(true);
    expect(new RpcError('slow', RpcCode.TIMEOUT).toWire().retryable).toBeUndefined();
    expect(RpcError.fromWire({ code: RpcCode.SERVICE_ERROR, message: 'boom', retryable: true }).retryable).toBe(false);
    expect(RpcError.fromWire({ code: RpcCode.LIMIT_EXCEEDED, message: 'x', retryable: 'yes' }).retryable).toBe(false);
  });
});

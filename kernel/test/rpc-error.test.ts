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

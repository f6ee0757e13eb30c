import * as net from 'node:net';
import { RpcCode, RpcError } from '@plexus/kernel/spi';
import { codeOfStatus, decodeMessage, encodeMessage, formatTimeout, GrpcStatus, MessageReader, parseTimeout, statusOfError } from '../src';
import { app, cleanup } from './support';

afterEach(cleanup);

describe('grpc wire helpers', () => {
  it('parses and formats grpc-timeout', () => {
    expect(parseTimeout('250m')).toBe(250);
    expect(parseTimeout('2S')).toBe(2000);
    expect(parseTimeout('1M')).toBe(60_000);
    expect(parseTimeout('1H')).toBe(3_600_000);
    expect(parseTimeout('1500u')).toBe(2);
    expect(parseTimeout('10n')).toBe(1);
    for (const bad of ['', '10', 'm', '123456789m', '-1m', '1.5S', '10 S']) expect(parseTimeout(bad)).toBe(-1);
    expect(formatTimeout(0.4)).toBe('1m');
    expect(formatTimeout(1234.2)).toBe('1235m');
    expect(parseTimeout(formatTimeout(500_000_000))).toBeGreaterThanOrEqual(500_000_000);
    expect(formatTimeout(500_000_000)).toMatch(/^\d{1,8}[SH]$/);
  });

  it('percent-encodes grpc-message and decodes it leniently', () => {
    const text = 'bad 100% — naïve\nline';
    const wire = encodeMessage(text);
    expect(wire).toMatch(/^[\x20-\x7e]*$/);
    expect(wire).toContain('100%25');
    expect(decodeMessage(wire)).toBe(text);
    expect(decodeMessage('50%zz off')).toBe('50%zz off');
  });

  it('maps RpcCodes to gRPC statuses and back, business errors keeping a chosen status', () => {
    expect(statusOfError(new RpcError('x', RpcCode.SERVER_TIMEOUT))).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(statusOfError(new RpcError('x', RpcCode.METHOD_NOT_FOUND))).toBe(GrpcStatus.UNIMPLEMENTED);
    expect(statusOfError(new RpcError('x', RpcCode.SERVICE_ERROR))).toBe(GrpcStatus.UNKNOWN);
    expect(statusOfError(new RpcError('x', RpcCode.SERVICE_ERROR, { data: { code: 5 } }))).toBe(GrpcStatus.NOT_FOUND);
    expect(statusOfError(new RpcError('x', RpcCode.SERVICE_ERROR, { data: { code: 99 } }))).toBe(GrpcStatus.UNKNOWN);
    expect(statusOfError(new RpcError('x', RpcCode.SHUTTING_DOWN))).toBe(GrpcStatus.UNAVAILABLE);
    expect(codeOfStatus(GrpcStatus.UNAVAILABLE, '')).toBe(RpcCode.NETWORK);
    expect(codeOfStatus(GrpcStatus.UNIMPLEMENTED, 'unknown service a.B')).toBe(RpcCode.SERVICE_NOT_FOUND);
    expect(codeOfStatus(GrpcStatus.UNIMPLEMENTED, 'unknown method X of service a.B')).toBe(RpcCode.METHOD_NOT_FOUND);
    expect(codeOfStatus(GrpcStatus.NOT_FOUND, '')).toBe(RpcCode.SERVICE_ERROR);
    for (const code of Object.values(RpcCode)) expect(statusOfError(new RpcError('x', code))).toBeGreaterThan(0);
  });

  it('splits messages across and within chunks, refusing an oversized prefix before buffering', () => {
    const got: string[] = [];
    const r = new MessageReader(16, (b) => got.push(b.toString()));
    const msg = (t: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, t.length]), Buffer.from(t)]);
    const all = Buffer.concat([msg('hello'), msg(''), msg('world!')]);
    for (let i = 0; i < all.length; i += 3) expect(r.push(all.subarray(i, i + 3))).toBeUndefined();
    expect(got).toEqual(['hello', '', 'world!']);
    expect(r.atBoundary).toBe(true);
    expect(r.push(Buffer.from([0, 0, 0, 1, 0]))).toEqual({ kind: 'too-large', declared: 256 });
    expect(r.pending).toBe(0);
  });
});

describe('grpc client connect', () => {
  it('a port that accepts TCP but never speaks HTTP/2 fails within connectTimeout, coded', async () => {
    const accepted: net.Socket[] = [];
    const silent = net.createServer((socket) => {
      socket.on('error', () => undefined);
      accepted.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const c = app('connect-consumer', { protocols: [{ name: 'grpc', port: 0, connectTimeout: 200 }] });
      await c.start();
      const ref = c.refer<{ add(a: number, b: number): Promise<number> }>({ interface: 'acc.Calc', url: `grpc://127.0.0.1:${port}`, retries: 0, timeout: 5000 });
      const started = Date.now();
      const err = await ref.add(1, 2).then(
        () => undefined,
        (e: RpcError) => e,
      );
      expect(err?.code).toBe(RpcCode.NETWORK);
      expect(err?.reason).toBe('PLEXUS_ERR_GRPC_CONNECT');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await new Promise<void>((resolve) => {
        silent.close(() => resolve());
        for (const s of accepted) s.destroy();
      });
    }
  });
});

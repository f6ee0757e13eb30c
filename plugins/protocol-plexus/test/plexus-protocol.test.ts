import Ajv from 'ajv';
import { RpcCode, RpcError, URL } from '@plexus/kernel/spi';
import { fakeExtensionContext, MemoryTransport } from '@plexus/kernel/testing';
import plugin, { PlexusProtocol } from '../src/plexus-protocol';
import { normalizeOptions, optionsSchema, DEFAULT_PAYLOAD } from '../src/options';
import { call, makeProtocol } from './support/harness';

describe('plexus protocol plugin', () => {
  it('declares one protocol extension named plexus with an options schema', () => {
    expect(Object.getOwnPropertySymbols(plugin).map(String)).toContain('Symbol(plexus.plugin)');
    expect(plugin.name).toBe('@plexus/protocol-plexus');
    expect(plugin.extensions).toHaveLength(1);
    const [ext] = plugin.extensions;
    expect([ext.point, ext.name]).toEqual(['protocol', 'plexus']);
    expect(ext.optionsSchema).toBe(optionsSchema);
    const created = ext.create(fakeExtensionContext({ port: 20999 }));
    expect(created).toBeInstanceOf(PlexusProtocol);
    expect((created as PlexusProtocol).defaultPort).toBe(20999);
  });

  it('has an options schema that compiles in strict mode and fills the same defaults', () => {
    const ajv = new Ajv({ strict: true, allErrors: true, useDefaults: true, coerceTypes: true });
    const validate = ajv.compile(optionsSchema);
    const options: Record<string, unknown> = { tls: true, port: '20881' };
    expect(validate(options)).toBe(true);
    expect(normalizeOptions(options)).toEqual({ ...normalizeOptions({}), port: 20881, tls: {} });
    expect(validate({ payload: 10 })).toBe(false);
    expect(validate({ connections: 0 })).toBe(false);
  });

  it('fills every option default, and accepts string numbers from env-style config', () => {
    const o = normalizeOptions({});
    expect(o).toMatchObject({
      port: 20880,
      payload: DEFAULT_PAYLOAD,
      heartbeat: 60000,
      heartbeatMisses: 3,
      connections: 1,
      transport: 'tcp',
      serializer: 'msgpack',
      compressor: 'identity',
      compressThreshold: 1024,
      connectTimeout: 3000,
      sendStack: false,
    });
    expect(normalizeOptions({ payload: '4096', connections: '2' })).toMatchObject({ payload: 4096, connections: 2 });
  });

  it('fails calls with a retryable NETWORK error when the transport cannot be resolved', async () => {
    const protocol = new PlexusProtocol(
      fakeExtensionContext({ transport: 'carrier-pigeon' }, { resolve: () => { throw new Error('No transport named "carrier-pigeon"'); } }),
    );
    try {
      const invoker = protocol.refer(URL.parse('plexus://127.0.0.1:1/demo.Greeter'));
      const p = invoker.invoke(call('demo.Greeter', 'hello', ['x'], { serializer: 'json' }));
      // the serializer miss comes first here, before any connection is tried
      const err = (await p.catch((e: unknown) => e)) as RpcError;
      expect(RpcError.is(err)).toBe(true);
      expect(err.code).toBe(RpcCode.SERIALIZATION);
    } finally {
      await protocol.destroy();
    }
    const { protocol: other } = makeProtocol({
      transport: {
        listen: () => Promise.reject(new Error('no')),
        connect: () => {
          throw new Error('No transport named "carrier-pigeon"');
        },
      },
    });
    try {
      const invoker = other.refer(URL.parse('plexus://127.0.0.1:1/demo.Greeter'));
      const err = (await invoker.invoke(call('demo.Greeter', 'hello', ['x'])).catch((e: unknown) => e)) as RpcError;
      expect(err.code).toBe(RpcCode.NETWORK);
      expect(err.message).toContain('carrier-pigeon');
      const oneWay = (await invoker.invoke(call('demo.Greeter', 'hello', ['x'], { oneWay: true })).catch((e: unknown) => e)) as RpcError;
      expect(RpcError.is(oneWay)).toBe(true);
      expect(oneWay.code).toBe(RpcCode.NETWORK);
    } finally {
      await other.destroy();
    }
  });

  it('rejects a one-way call with NETWORK when its first connect fails', async () => {
    const { protocol } = makeProtocol({ transport: new MemoryTransport() });
    try {
      const invoker = protocol.refer(URL.parse('plexus://127.0.0.1:1/demo.Greeter'));
      const err = (await invoker.invoke(call('demo.Greeter', 'hello', ['x'], { oneWay: true })).catch((e: unknown) => e)) as RpcError;
      expect(RpcError.is(err)).toBe(true);
      expect(err.code).toBe(RpcCode.NETWORK);
      expect(err.reason).toBe('PLEXUS_ERR_PROTOCOL_CONNECT');
    } finally {
      await protocol.destroy();
    }
  });

  it('refuses to export when the transport cannot listen, and can export again afterwards', async () => {
    let fail = true;
    const memory = new MemoryTransport();
    const { protocol } = makeProtocol({
      transport: {
        listen: (o, h) => (fail ? Promise.reject(new Error('EADDRINUSE')) : memory.listen(o, h)),
        connect: (o, h) => memory.connect(o, h),
      },
    });
    const { TestService } = await import('./support/harness');
    const service = new TestService('demo.Greeter', { hello: (n: string) => `hi ${n}` });
    try {
      await expect(protocol.export(service, URL.parse('plexus://127.0.0.1:0/demo.Greeter'))).rejects.toThrow('EADDRINUSE');
      fail = false;
      const exporter = await protocol.export(service, URL.parse('plexus://127.0.0.1:0/demo.Greeter'));
      await expect(protocol.refer(exporter.url).invoke(call('demo.Greeter', 'hello', ['x']))).resolves.toEqual({ value: 'hi x' });
    } finally {
      await protocol.destroy();
    }
  });
});

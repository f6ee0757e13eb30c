import Ajv from 'ajv';
import { RpcCode, RpcError, RpcInvocation, URL } from '@plexus/kernel/spi';
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

  it("encodes each call with its own method's serializer while methods alternate (the plan looked up once per method is not another method's)", async () => {
    const { TestService, jsonSerializer } = await import('./support/harness');
    // json2: json on the wire under another id, counting what it encodes
    let json2Encoded = 0;
    const json2 = { ...jsonSerializer, id: 9, name: 'json2', serialize: (v: unknown) => (json2Encoded++, jsonSerializer.serialize(v)) };
    const { protocol } = makeProtocol({ transport: new MemoryTransport(), serializers: [jsonSerializer, json2] });
    const service = new TestService('plan.Svc', { a: (n: number) => n, b: (n: number) => n });
    try {
      const exporter = await protocol.export(service, URL.parse('plexus://127.0.0.1:0/plan.Svc'));
      const invoker = protocol.refer(exporter.url);
      const settingsA = call('plan.Svc', 'a', [0]).settings;
      const settingsB = call('plan.Svc', 'b', [0], { serializer: 'json2' }).settings;
      const invoke = (method: 'a' | 'b', n: number) =>
        invoker.invoke(new RpcInvocation({ service: 'plan.Svc', method, args: [n], attachments: {}, serviceKey: 'plan.Svc', settings: method === 'a' ? settingsA : settingsB }));
      const before = json2Encoded;
      for (const [method, n] of [['a', 1], ['b', 2], ['a', 3], ['a', 4], ['b', 5]] as const) {
        await expect(invoke(method, n)).resolves.toEqual({ value: n });
      }
      // json2 encoded the two requests of b and the provider's two answers to them: nothing for a
      expect(json2Encoded - before).toBe(4);
    } finally {
      await protocol.destroy();
    }
  });
});

import * as path from 'node:path';
import { ConfigErrors, explainConfig, loadConfigFile, resolveConfig, type PlexusConfig } from '../src/config';
import { tempDir, thrown } from './config-helpers';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let n = 0;
/** A fresh file per test, so a failing test never reads another's file. */
function file(text: string, ext = 'yaml'): string {
  n += 1;
  return tmp.write(`case${n}/plexus.${ext}`, text);
}

describe('loadConfigFile', () => {
  it('reads YAML and finds the line and column of a key', () => {
    const f = file('application:\n  name: demo\nservices:\n  - interface: demo.Greeter\n    weight: 5\n');
    const loaded = loadConfigFile(f);
    expect(loaded.path).toBe(f);
    expect(loaded.data).toEqual({ application: { name: 'demo' }, services: [{ interface: 'demo.Greeter', weight: 5 }] });
    expect(loaded.positionOf(['application', 'name'])).toEqual({ line: 2, column: 3 });
    expect(loaded.positionOf(['services', 0])).toEqual({ line: 4, column: 5 });
    expect(loaded.positionOf(['services', 0, 'weight'])).toEqual({ line: 5, column: 5 });
    expect(loaded.positionOf([])).toEqual({ line: 1, column: 1 });
    expect(loaded.positionOf(['nothing', 'here'])).toBeUndefined();
  });

  it('reads JSON with positions too', () => {
    const f = file('{\n  "consumer": {\n    "timeout": 500\n  }\n}\n', 'json');
    const loaded = loadConfigFile(f);
    expect(loaded.data).toEqual({ consumer: { timeout: 500 } });
    expect(loaded.positionOf(['consumer', 'timeout'])).toEqual({ line: 3, column: 5 });
  });

  it('finds plexus.yaml when given its folder, and reads an empty file as {}', () => {
    const f = file('');
    expect(loadConfigFile(path.dirname(f)).data).toEqual({});
  });

  it('says which absolute path was missing', () => {
    const err = thrown(() => loadConfigFile(path.join(tmp.dir, 'nope', 'plexus.yaml')));
    expect(err.code).toBe('PLEXUS_ERR_CONFIG_NOT_FOUND');
    expect(err.message).toContain(path.join(tmp.dir, 'nope', 'plexus.yaml'));
    expect(err.message).toContain('hint:');
  });

  it('reports a syntax error as file:line:column', () => {
    const f = file('consumer:\n  timeout: 1\n  timeout: 2\n');
    const err = thrown(() => loadConfigFile(f));
    expect(err.code).toBe('PLEXUS_ERR_CONFIG_PARSE');
    expect(err.message).toContain(`${f}:3:3 Map keys must be unique`);
  });

  it('reports a JSON syntax error with its line', () => {
    const f = file('{\n  "consumer": { "timeout": 1,, }\n}\n', 'json');
    const err = thrown(() => loadConfigFile(f));
    expect(err.code).toBe('PLEXUS_ERR_CONFIG_PARSE');
    expect(err.message).toMatch(new RegExp(`${escape(f)}:2:\\d+ `));
  });

  it('refuses other file types and a top level that is not a mapping', () => {
    expect(thrown(() => loadConfigFile(file('a = 1', 'toml'))).code).toBe('PLEXUS_ERR_CONFIG_READ');
    const err = thrown(() => loadConfigFile(file('- a\n- b\n')));
    expect(err.code).toBe('PLEXUS_ERR_CONFIG_INVALID');
    expect(err.message).toContain('the top level must be a mapping of keys (got a list)');
  });
});

describe('validation', () => {
  it('names file:line, key path and the wrong value', () => {
    const f = file('application: { name: demo }\nconsumer:\n  timeout: fast\n');
    const err = thrown(() => resolveConfig({ file: f, env: {} }));
    expect(err.code).toBe(ConfigErrors.INVALID.code);
    expect(err.problems).toEqual([`${f}:3:3 consumer.timeout must be a number (got "fast")`]);
  });

  it('reports every problem at once, in file order, each on its own line', () => {
    const f = file(
      [
        'refrences: {}',
        'consumer:',
        '  timout: 3',
        '  filter: 5',
        'protocol: { port: 70000 }',
        'services:',
        '  - weight: 1',
        'references:',
        '  greeter:',
        '    interface: demo.Greeter',
        '    methods: { sayHello: { retries: -1 } }',
        'logLevel: eror',
      ].join('\n'),
    );
    const err = thrown(() => resolveConfig({ file: f, env: {} }));
    expect(err.problems).toEqual([
      `${f}:1:1 refrences is not a known key (did you mean "references"?)`,
      `${f}:3:3 consumer.timout is not a known key (did you mean "timeout"?)`,
      `${f}:4:3 consumer.filter must be a string or a list (got 5)`,
      `${f}:5:13 protocol.port must be <= 65535 (got 70000)`,
      `${f}:7:5 services[0].interface is required`,
      `${f}:11:28 references.greeter.methods.sayHello.retries must be >= 0 (got -1)`,
      `${f}:12:1 logLevel must be one of debug, info, warn, error, silent (got "eror") (did you mean "error"?)`,
    ]);
    for (const line of err.problems ?? []) expect(err.message).toContain(line);
    expect(err.message).toContain('hint:');
  });

  it('gives line numbers for JSON files', () => {
    const f = file('{\n  "consumer": {\n    "retries": "many"\n  }\n}\n', 'json');
    expect(thrown(() => resolveConfig({ file: f, env: {} })).problems).toEqual([
      `${f}:3:5 consumer.retries must be a whole number (got "many")`,
    ]);
  });

  it('accepts a plugin key with a dot at call levels, and rejects one without', () => {
    const ok = resolveConfig({ code: { consumer: { 'consistenthash.arguments': 0 } }, env: {} });
    expect(ok.consumer['consistenthash.arguments']).toBe(0);
    const err = thrown(() => resolveConfig({ code: { consumer: { hashArguments: 0 } }, env: {} }));
    expect(err.problems?.[0]).toMatch(/^consumer\.hashArguments \(set in code\) is not a known key \(a plugin's own key needs a dot/);
  });

  it('requires interface on references and checks extension points', () => {
    const err = thrown(() =>
      resolveConfig({ code: { references: { greeter: { url: 'plexus://127.0.0.1:1' } as never }, extensions: { loadbalanse: {} } }, env: {} }),
    );
    expect(err.problems).toEqual([
      'extensions.loadbalanse (set in code) is not a known key (did you mean "loadbalance"?)',
      'references.greeter.interface (set in code) is required',
    ]);
  });

  it('names a protocol a service wants but nobody serves', () => {
    const f = file('protocols: [{ name: plexus }, { name: http, port: 8080 }]\nservices:\n  - interface: a.B\n    protocol: plexsu\n');
    expect(thrown(() => resolveConfig({ file: f, env: {} })).problems).toEqual([
      `${f}:4:5 services[0].protocol names protocol "plexsu", which is not configured (protocols: plexus, http); did you mean "plexus"?`,
    ]);
  });

  it('refuses two protocols with the same name', () => {
    const err = thrown(() => resolveConfig({ code: { protocols: [{ port: 1 }, { name: 'plexus', port: 2 }] }, env: {} }));
    expect(err.problems).toEqual(['protocols[1] (set in code) repeats the protocol "plexus" of protocols[0]; give each protocol its own name']);
  });
});

describe('environment overrides', () => {
  it('maps PLEXUS_<PATH> to keys and coerces by the schema type', () => {
    const config = resolveConfig({
      env: {
        PLEXUS_APPLICATION_NAME: 'shop',
        PLEXUS_REGISTRY_ADDRESS: '127.0.0.1:2181',
        PLEXUS_REGISTRY_TYPE: 'zookeeper',
        PLEXUS_PROTOCOL_PORT: '0',
        PLEXUS_CONSUMER_TIMEOUT: '250',
        PLEXUS_CONSUMER_CHECK: 'false',
        PLEXUS_CONSUMER_COMPRESSTHRESHOLD: '2048',
        PLEXUS_PROVIDER_COMPRESS_THRESHOLD: '4096',
        PLEXUS_CONSUMER_VERSION: '1.0',
        PLEXUS_CONSUMER_FILTER: 'accesslog,-timeout',
        PLEXUS_PLUGINS: './a.js, ./b.js',
        PLEXUS_EXTENSIONS_LOADBALANCE_P2C: '{"choices":3}',
        PLEXUS_EXTENSIONS_LOADBALANCE_P2C_CHOICES: '3',
        PLEXUS_LOG_LEVEL: 'WARN',
      },
    });
    expect(config.application.name).toBe('shop');
    expect(config.registry).toEqual({ type: 'zookeeper', address: '127.0.0.1:2181' });
    expect(config.protocols).toEqual([{ name: 'plexus', host: '127.0.0.1', port: 0, serializer: 'msgpack', compressor: 'identity' }]);
    expect(config.consumer).toMatchObject({ timeout: 250, check: false, compressThreshold: 2048, version: '1.0', filter: ['accesslog', '-timeout'] });
    expect(config.extensions.loadbalance.p2c).toEqual({ choices: 3 });
    expect(config.provider.compressThreshold).toBe(4096);
    expect(config.plugins).toEqual(['./a.js', './b.js']);
    expect(config.extensions).toEqual({ loadbalance: { p2c: { choices: 3 } } });
    expect(config.logLevel).toBe('warn');
    expect(config.sources['consumer.timeout']).toBe('env');
    expect(config.origins?.['consumer.timeout']).toBe('PLEXUS_CONSUMER_TIMEOUT');
    expect(config.sources['protocols[0].port']).toBe('env');
  });

  it('applies code over env over file over defaults, and records each source', () => {
    const f = file('consumer: { timeout: 100, retries: 5, loadbalance: roundrobin }\n');
    const config = resolveConfig({
      file: f,
      env: { PLEXUS_CONSUMER_TIMEOUT: '200', PLEXUS_CONSUMER_RETRIES: '6' },
      code: { consumer: { timeout: 300 } },
    });
    expect(config.consumer).toMatchObject({ timeout: 300, retries: 6, loadbalance: 'roundrobin', cluster: 'failover' });
    expect(config.sources).toMatchObject({
      'consumer.timeout': 'code',
      'consumer.retries': 'env',
      'consumer.loadbalance': 'file',
      'consumer.cluster': 'default',
    });
    expect(config.origins?.['consumer.loadbalance']).toBe(`${f}:1:39`);
  });

  it('reaches references, methods and services, keeping the case of ids in the file', () => {
    const f = file(
      'services:\n  - interface: a.B\nreferences:\n  orderService:\n    interface: demo.Orders\n    methods: { placeOrder: { retries: 0 } }\n',
    );
    const config = resolveConfig({
      file: f,
      env: {
        PLEXUS_REFERENCES_ORDERSERVICE_URL: 'plexus://127.0.0.1:20880',
        PLEXUS_REFERENCES_ORDER_SERVICE_METHODS_PLACE_ORDER_TIMEOUT: '50',
        PLEXUS_REFERENCES_STOCK_INTERFACE: 'demo.Stock',
        PLEXUS_SERVICES_0_WEIGHT: '7',
      },
    });
    expect(config.references.orderService).toMatchObject({ url: 'plexus://127.0.0.1:20880', methods: { placeOrder: { retries: 0, timeout: 50 } } });
    expect(config.references.stock).toEqual({ interface: 'demo.Stock' });
    expect(config.services[0]).toEqual({ interface: 'a.B', weight: 7 });
    expect(config.sources['services[0].weight']).toBe('env');
    expect(config.sources['services[0].interface']).toBe('file');
  });

  it('says which variable is wrong, and suggests the right name', () => {
    const err = thrown(() =>
      resolveConfig({
        env: { PLEXUS_CONSUMER_TIMEOUT: 'fast', PLEXUS_CONSUMER_TIMOUT: '5', PLEXUS_SERVICES_2_WEIGHT: '1', PLEXUS_EXTENSIONS_LOADBALANCE_P2C: '{oops' },
      }),
    );
    expect(err.code).toBe('PLEXUS_ERR_CONFIG_INVALID');
    expect(err.problems).toEqual([
      'PLEXUS_CONSUMER_TIMEOUT must be a number (got "fast")',
      'PLEXUS_CONSUMER_TIMOUT is not a config key (did you mean PLEXUS_CONSUMER_TIMEOUT?)',
      expect.stringMatching(/^PLEXUS_EXTENSIONS_LOADBALANCE_P2C is not valid JSON/),
      'PLEXUS_SERVICES_2_WEIGHT sets services[2], but services has 0 entries; add entries in order from [0]',
    ]);
  });

  it('leaves PLEXUS_* variables that are no config key alone, and treats empty values as unset', () => {
    const config = resolveConfig({ env: { PLEXUS_HOME: '/x', PLEXUS_CONFIG: 'a.yaml', PLEXUS_CONSUMER_TIMEOUT: '', NODE_ENV: 'test' } });
    expect(config.consumer.timeout).toBe(1000);
  });

  it('takes a registry URL, and "none" switches discovery off (the embedded default too)', () => {
    const f = file('registry: { type: zookeeper, address: 127.0.0.1:2181 }\n');
    expect(resolveConfig({ file: f, env: { PLEXUS_REGISTRY: 'none' } }).registry).toEqual({ type: 'none' });
    expect(resolveConfig({ file: f, env: { PLEXUS_REGISTRY: 'etcd://127.0.0.1:2379' } }).registry).toEqual({
      type: 'etcd',
      address: '127.0.0.1:2379',
    });
  });
});

describe('normalisation', () => {
  it('serves one loopback plexus protocol on 20880 by default', () => {
    const config = resolveConfig({ env: {} });
    expect(config.protocols).toEqual([{ name: 'plexus', host: '127.0.0.1', port: 20880, serializer: 'msgpack', compressor: 'identity' }]);
    expect(config.sources['protocols[0].port']).toBe('default');
    expect(config.registry).toBeUndefined();
    expect(config.application.name).toBe('plexus-app');
    expect(config.consumer).toEqual({ timeout: 1000, retries: 2, cluster: 'failover', loadbalance: 'random', check: true });
    expect(config.provider).toMatchObject({ timeout: 3000, weight: 100, warmup: 600000, shutdownTimeout: 10000 });
    expect(config).toMatchObject({ plugins: [], services: [], references: {}, extensions: {}, baseDir: process.cwd() });
  });

  it('turns protocol into protocols, filling name and host', () => {
    const f = file('protocol: { port: 20881, serializer: json }\n');
    const config = resolveConfig({ file: f, env: {} });
    expect(config.protocols).toEqual([{ name: 'plexus', host: '127.0.0.1', port: 20881, serializer: 'json', compressor: 'identity' }]);
    expect(config.sources['protocols[0].port']).toBe('file');
    expect(config.origins?.['protocols[0].port']).toBe(`${f}:1:13`);
  });

  it('accepts protocols as a list; protocol then merges into the entry of its name', () => {
    const config = resolveConfig({
      code: { protocols: ['injvm', { name: 'http', port: 8080 }, { name: 'plexus', path: '/tmp/p.sock' }], protocol: { name: 'http', port: 0 } },
      env: {},
    });
    expect(config.protocols).toEqual([
      { name: 'injvm' },
      { name: 'http', port: 0, host: '127.0.0.1' },
      { name: 'plexus', path: '/tmp/p.sock', serializer: 'msgpack', compressor: 'identity' },
    ]);
  });

  it('lets the environment change the port of the first protocol, or name the protocol', () => {
    const f = file('protocols:\n  - { name: plexus, port: 20880 }\n  - { name: http, port: 8080 }\n');
    const config = resolveConfig({ file: f, env: { PLEXUS_PROTOCOL_PORT: '0', PLEXUS_PROTOCOLS_1_HOST: '0.0.0.0' } });
    expect(config.protocols.map((p) => [p.name, p.host, p.port])).toEqual([
      ['plexus', '127.0.0.1', 0],
      ['http', '0.0.0.0', 8080],
    ]);
    expect(config.origins?.['protocols[1].host']).toBe('PLEXUS_PROTOCOLS_1_HOST');
    expect(resolveConfig({ env: { PLEXUS_PROTOCOL: 'injvm' } }).protocols).toEqual([{ name: 'injvm' }]);
  });

  it('replaces the only protocol when another name is given', () => {
    const f = file('protocol: { name: plexus, port: 20881, serializer: json }\n');
    const config = resolveConfig({ file: f, env: {}, code: { protocol: { name: 'http', port: 8080 } } });
    expect(config.protocols).toEqual([{ name: 'http', port: 8080, host: '127.0.0.1' }]);
  });

  it('turns filter strings into lists at every level, and a service protocol into a list', () => {
    const f = file(
      [
        'consumer: { filter: "accesslog, -timeout" }',
        'services:',
        '  - interface: a.B',
        '    protocol: plexus',
        '    filter: token',
        '    methods: { m: { timeout: 5 } }',
      ].join('\n'),
    );
    const config = resolveConfig({ file: f, env: {} });
    expect(config.consumer.filter).toEqual(['accesslog', '-timeout']);
    expect(config.services[0]).toEqual({ interface: 'a.B', protocol: ['plexus'], filter: ['token'], methods: { m: { timeout: 5 } } });
  });

  it('reads a registry written as a URL', () => {
    const zk = resolveConfig({ code: { registry: 'zookeeper://127.0.0.1:2181,127.0.0.2:2181?sessionTimeout=5000' }, env: {} });
    expect(zk.registry).toEqual({ type: 'zookeeper', address: '127.0.0.1:2181,127.0.0.2:2181', sessionTimeout: 5000 });
    const local = resolveConfig({ code: { registry: 'local:///var/plexus' }, env: {} });
    expect(local.registry).toEqual({ type: 'local', address: '/var/plexus' });
    const dubbo = resolveConfig({ code: { registry: { address: 'redis://127.0.0.1:6379' } as never }, env: {} });
    expect(dubbo.registry).toEqual({ type: 'redis', address: '127.0.0.1:6379' });
    expect(thrown(() => resolveConfig({ code: { registry: 'zk' }, env: {} })).problems).toEqual([
      'registry (set in code) must be a URL such as zookeeper://127.0.0.1:2181 or local:///var/plexus, or a mapping with a type (got "zk")',
    ]);
  });

  it('lets a later layer unset a key with null, and keeps a registry of another type apart', () => {
    const f = file('registry: { type: zookeeper, address: 127.0.0.1:2181, sessionTimeout: 5000 }\n');
    expect(resolveConfig({ file: f, env: {}, code: { registry: null } }).registry).toEqual({ type: 'none' });
    expect(resolveConfig({ file: f, env: {}, code: { registry: { type: 'local' } } }).registry).toEqual({ type: 'local' });
  });

  it('names the application after the file, or the folder of a plexus.yaml', () => {
    const named = tmp.write('names/greeter.yaml', 'consumer: {}\n');
    expect(resolveConfig({ file: named, env: {} }).application.name).toBe('greeter');
    const plain = tmp.write('orders/plexus.yaml', 'consumer: {}\n');
    const config = resolveConfig({ file: plain, env: {} });
    expect(config.application.name).toBe('orders');
    expect(config.baseDir).toBe(path.dirname(plain));
    expect(config.file).toBe(plain);
    expect(resolveConfig({ file: plain, env: {}, code: { baseDir: '/srv/app' } }).baseDir).toBe(path.resolve('/srv/app'));
  });

  it('keeps an implementation given in code as the same object', () => {
    const impl = { sayHello: (name: string) => `hello ${name}` };
    const config = resolveConfig({ code: { services: [{ interface: 'demo.Greeter', implementation: impl }] }, env: {} });
    expect(config.services[0].implementation).toBe(impl);
    expect(config.sources['services[0].implementation']).toBe('code');
  });
});

describe('explainConfig', () => {
  it('says where every value came from, and masks secrets', () => {
    const f = file('application: { name: demo }\nprovider: { token: s3cret }\n');
    const config: PlexusConfig = resolveConfig({ file: f, env: { PLEXUS_CONSUMER_RETRIES: '0' }, code: { consumer: { timeout: 50 } } });
    const lines = explainConfig(config);
    expect(lines).toContain(`application.name = "demo" (file ${f}:1:16)`);
    expect(lines).toContain('consumer.retries = 0 (env PLEXUS_CONSUMER_RETRIES)');
    expect(lines).toContain('consumer.timeout = 50 (code)');
    expect(lines).toContain('consumer.cluster = "failover" (default)');
    expect(lines).toContain(`provider.token = "***" (file ${f}:2:13)`);
    expect(lines.join('\n')).not.toContain('s3cret');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

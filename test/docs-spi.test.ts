import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import {
  clusterContract,
  compressorContract,
  executorContract,
  fakeExtensionContext,
  filterContract,
  loadBalanceContract,
  MemoryLogger,
  MemoryRegistry,
  registryContract,
  routerContract,
  serializerContract,
  transportContract,
} from '@plexus/kernel/testing';
import { ADMIN, EXTENSION_POINTS, URL, type ExtensionDefinition, type PluginDefinition } from '@plexus/kernel/spi';
import { JsonSerializer } from '../plugins/serializer-json/src';
import { TcpTransport } from '../plugins/transport-tcp/src';

/**
 * docs/reference/spi/<point>.md: one page per extension point. Each page's example (its fence
 * marked `fixture=`) is a file of test/fixtures/docs-plugin/spi/ word for word, and here each runs
 * through the contract suite the page names (points without a suite get a direct check).
 */
const root = path.resolve(__dirname, '..');
const spiDir = path.join(root, 'docs', 'reference', 'spi');
const fixtures = path.join(root, 'test', 'fixtures', 'docs-plugin', 'spi');
const points = Object.keys(EXTENSION_POINTS);

/* eslint-disable @typescript-eslint/no-require-imports */
function definition(point: string): ExtensionDefinition {
  const plugin = require(path.join(fixtures, `${point}.js`)) as PluginDefinition;
  const def = plugin.extensions.find((e) => e.point === point);
  if (!def) throw new Error(`fixture ${point}.js defines no ${point} extension`);
  return def;
}
const create = <T>(point: string, options: Record<string, unknown> = {}, init: Parameters<typeof fakeExtensionContext>[1] = {}): T =>
  definition(point).create(fakeExtensionContext(options, init)) as T;

describe('docs/reference/spi pages', () => {
  it('there is a page per extension point, and an index naming each', () => {
    const pages = fs.readdirSync(spiDir).filter((f) => f !== 'README.md' && f.endsWith('.md')).map((f) => f.slice(0, -3)).sort();
    expect(pages).toEqual([...points].sort());
    const index = fs.readFileSync(path.join(spiDir, 'README.md'), 'utf8');
    for (const p of points) expect(index).toContain(`(${p}.md)`);
  });

  it.each(points)('%s.md shows its fixture word for word, and its interface file', (point) => {
    const page = fs.readFileSync(path.join(spiDir, `${point}.md`), 'utf8');
    const fence = new RegExp('^```js fixture=test/fixtures/docs-plugin/spi/' + point + '\\.js\\n([\\s\\S]*?)^```\\s*$', 'm').exec(page);
    expect(fence?.[1]).toBe(fs.readFileSync(path.join(fixtures, `${point}.js`), 'utf8'));
    expect(page).toContain(`kernel/src/spi/${point}.ts`);
  });
});

serializerContract('vjson (docs/reference/spi/serializer.md)', () => create('serializer', {}, { resolve: () => new JsonSerializer() }));
compressorContract('deflate (docs/reference/spi/compressor.md)', () => create('compressor'));
loadBalanceContract('wrandom (docs/reference/spi/loadbalance.md)', () => create('loadbalance'));
clusterContract('loggedfailfast (docs/reference/spi/cluster.md)', () => create('cluster'));
routerContract('avoid (docs/reference/spi/router.md)', () => create('router', { avoid: ['10.0.0.1:20880'] }));
filterContract('slowcall (docs/reference/spi/filter.md)', () => create('filter', { slowMs: 1000 }));
executorContract('serial (docs/reference/spi/executor.md)', () => create('executor', { queue: 1000 }));
registryContract('audit over MemoryRegistry (docs/reference/spi/registry.md)', () =>
  create('registry', {}, { inner: new MemoryRegistry({ namespace: 'docs-spi-audit' }) }),
);
transportContract('bytecount over tcp (docs/reference/spi/transport.md)', () => create('transport', {}, { inner: new TcpTransport() }));

describe('bytecount (docs/reference/spi/transport.md)', () => {
  it('counts what goes out through write and through reserve', async () => {
    const logger = new MemoryLogger();
    const transport = create<import('@plexus/kernel/spi').Transport>('transport', {}, { inner: new TcpTransport(), logger });
    const server = await transport.listen({ host: '127.0.0.1', port: 0, heartbeat: 0 }, { onData: () => undefined });
    let closed!: () => void;
    const done = new Promise<void>((r) => (closed = r));
    const client = transport.connect({ host: '127.0.0.1', port: server.port, heartbeat: 0, reconnect: false }, { onData: () => undefined, onClose: () => closed() });
    try {
      await client.connect();
      client.write(Buffer.alloc(10));
      const slot = client.reserve!(20);
      slot.buffer.fill(1, slot.offset, slot.offset + 20);
      client.close();
      await done;
      expect(logger.entries.map((e) => e.message)).toContain(`${client.remoteAddress}: 30 bytes written`);
    } finally {
      client.destroy();
      await server.close();
    }
  });
});

describe('protocol wrapper (docs/reference/spi/protocol.md)', () => {
  it('hands every call to the protocol it wraps, and logs exports and refers', async () => {
    const calls: string[] = [];
    const inner = {
      defaultPort: 20880,
      export: async () => (calls.push('export'), { unexport: async () => undefined }),
      refer: () => (calls.push('refer'), {}),
      drain: async () => void calls.push('drain'),
      destroy: async () => void calls.push('destroy'),
    };
    const logger = new MemoryLogger();
    const p = create<typeof inner>('protocol', {}, { inner, logger });
    expect(p.defaultPort).toBe(20880);
    const url = URL.parse('plexus://127.0.0.1:20880/demo.Echo');
    await (p.export as unknown as (s: unknown, u: URL) => Promise<unknown>)({ serviceKey: 'demo.Echo' }, url);
    (p.refer as unknown as (u: URL) => unknown)(url);
    await p.drain();
    await p.destroy();
    expect(calls).toEqual(['export', 'refer', 'drain', 'destroy']);
    expect(logger.entries.map((e) => e.message)).toEqual(['export demo.Echo on plexus://127.0.0.1:20880', 'refer demo.Echo at plexus://127.0.0.1:20880']);
  });
});

describe('qos server (docs/reference/spi/qos.md)', () => {
  const get = (port: number, p: string) =>
    new Promise<number>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: p }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject));

  it('answers /live and /ready from the Admin view, 404 otherwise, and closes', async () => {
    const admin = { config: { host: '127.0.0.1', port: 0 }, live: true, ready: false };
    const server = create<{ start(): Promise<void>; close(): Promise<void>; address(): { port: number } | undefined }>('qos', {}, { values: new Map([[ADMIN, admin]]) });
    await server.start();
    try {
      const port = server.address()!.port;
      expect(await get(port, '/live')).toBe(200);
      expect(await get(port, '/ready')).toBe(503);
      admin.ready = true;
      expect(await get(port, '/ready')).toBe(200);
      expect(await get(port, '/ls')).toBe(404);
    } finally {
      await server.close();
    }
    expect(server.address()).toBeUndefined();
  });
});

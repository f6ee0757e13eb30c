/**
 * gRPC interop end to end on 127.0.0.1: a provider started from a config file (its `proto:`
 * relative to that file) serves `plexus`, `grpc` and `http` at once; an unmodified grpc-js client,
 * a Plexus consumer over each protocol and a plain HTTP client all get answers. A malformed .proto
 * fails start() with its file and line. Then the published shape: the grpc protocol packed with
 * `npm pack`, installed outside the monorepo, streams 500 messages in order to a grpc-js client and
 * reads 500 from a grpc-js server.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Plexus } from '@plexus/kernel';

jest.setTimeout(30_000);

const PROTO = `syntax = "proto3";
package shop.v1;

message Order { string order_id = 1; int64 quantity = 2; }
message Receipt { string order_id = 1; int64 total = 2; string tenant = 3; }

service Orders {
  rpc Place (Order) returns (Receipt);
}
`;

const IMPL = `const { Plexus } = require('@plexus/kernel');
module.exports = {
  Place(order) {
    if (order.quantity === '0') throw Object.assign(new Error('quantity must be positive'), { code: 3 });
    return { order_id: order.order_id, total: String(BigInt(order.quantity) * 5n), tenant: Plexus.context().attachments.tenant || '' };
  },
};
`;

const apps: Plexus[] = [];
const clients: grpc.Client[] = [];
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-grpc-e2e-'));
  fs.mkdirSync(path.join(dir, 'protos'));
  fs.writeFileSync(path.join(dir, 'protos', 'orders.proto'), PROTO);
  fs.writeFileSync(path.join(dir, 'orders.js'), IMPL);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const a of apps.splice(0).reverse()) await a.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeConfig(): string {
  const file = path.join(dir, 'plexus.yaml');
  fs.writeFileSync(
    file,
    `application: { name: orders }
logLevel: silent
registry: none
protocols:
  - { name: plexus, host: 127.0.0.1, port: 0 }
  - { name: grpc, host: 127.0.0.1, port: 0 }
  - { name: http, host: 127.0.0.1, port: 0 }
services:
  - interface: shop.v1.Orders
    implementation: ./orders.js
    proto: ./protos/orders.proto
`,
  );
  return file;
}

async function startProvider(): Promise<Record<string, number>> {
  const app = await Plexus.fromConfig(writeConfig());
  apps.push(app);
  await app.start();
  const ports: Record<string, number> = {};
  for (const u of app.exportedUrls()) ports[u.protocol] = u.port;
  return ports;
}

describe('grpc interop e2e', () => {
  it('one provider answers a grpc-js client, Plexus consumers over plexus and grpc, and plain HTTP', async () => {
    const ports = await startProvider();
    expect(Object.keys(ports).sort()).toEqual(['grpc', 'http', 'plexus']);

    // grpc-js, unmodified, with proto-loader
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(dir, 'protos', 'orders.proto'), { keepCase: true, longs: String, defaults: true })) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const client = new pkg.shop.v1.Orders(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure());
    clients.push(client);
    const md = new grpc.Metadata();
    md.set('tenant', 'acme');
    const receipt = await new Promise<any>((resolve, reject) => client.Place({ order_id: 'o-1', quantity: '9007199254740993' }, md, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r)))); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(receipt).toEqual({ order_id: 'o-1', total: '45035996273704965', tenant: 'acme' });
    const invalid = await new Promise<grpc.ServiceError>((resolve) => client.Place({ order_id: 'o-2', quantity: 0 }, (e: grpc.ServiceError) => resolve(e)));
    expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(invalid.details).toBe('quantity must be positive');

    // Plexus consumers: the same service over grpc (protobuf from the .proto) and over plexus
    const consumer = Plexus.create({ logLevel: 'silent', application: { name: 'buyer' }, registry: 'none', protocols: [{ name: 'grpc', port: 0 }, { name: 'plexus', port: 0 }] });
    apps.push(consumer);
    await consumer.start();
    type Orders = { Place(o: { order_id: string; quantity: number | string }): Promise<{ order_id: string; total: string | number; tenant: string }> };
    const overGrpc = consumer.refer<Orders>({ interface: 'shop.v1.Orders', url: `grpc://127.0.0.1:${ports.grpc}`, proto: path.join(dir, 'protos', 'orders.proto'), retries: 0 });
    expect(await Plexus.withAttachments({ tenant: 'blue' }, () => overGrpc.Place({ order_id: 'o-3', quantity: 2 }))).toEqual({ order_id: 'o-3', total: '10', tenant: 'blue' });
    const overPlexus = consumer.refer<Orders>({ interface: 'shop.v1.Orders', url: `plexus://127.0.0.1:${ports.plexus}`, retries: 0 });
    expect(await overPlexus.Place({ order_id: 'o-4', quantity: '3' })).toEqual({ order_id: 'o-4', total: '15', tenant: '' });

    // plain HTTP (the http protocol) on the same provider
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: ports.http, method: 'POST', path: '/shop.v1.Orders/Place', headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end(JSON.stringify([{ order_id: 'o-5', quantity: '4' }]));
    });
    expect(JSON.parse(body)).toEqual({ order_id: 'o-5', total: '20', tenant: '' });
  });

  it('a malformed .proto fails start() with a config error naming its file and line', async () => {
    fs.writeFileSync(path.join(dir, 'protos', 'orders.proto'), PROTO.replace('int64 quantity = 2;', 'int64 quantity = ;'));
    const app = await Plexus.fromConfig(writeConfig());
    apps.push(app);
    let error: (Error & { code?: string }) | undefined;
    try {
      await app.start();
    } catch (err) {
      error = err as Error & { code?: string };
    }
    expect(error).toBeDefined();
    expect(error!.code).toBe('PLEXUS_ERR_PROTOBUF_PARSE');
    expect(error!.message).toContain(path.join(dir, 'protos', 'orders.proto'));
    expect(error!.message).toMatch(/illegal id ';' \(line 4\)/);
  });
});

const FEED_PROTO = `syntax = "proto3";
package feed.v1;

message Ask { int32 count = 1; }
message Item { int32 n = 1; string tenant = 2; }

service Feed {
  rpc Count (Ask) returns (stream Item);
}
`;

describe('grpc streaming from packed tarballs', () => {
  const ROOT = path.resolve(__dirname, '..', '..');
  // As an application installs Plexus: the kernel and the plugin packages (its defaults — cluster,
  // load balancer, serializers — are plugins too).
  const PACKAGES = ['kernel', ...fs.readdirSync(path.join(ROOT, 'plugins')).map((p) => `plugins/${p}`)];
  let project: string;
  const children: ChildProcess[] = [];

  function npm(args: string[], cwd: string): string {
    return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
  }

  beforeAll(() => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-grpc-packed-'));
    const tarballs = path.join(project, 'tarballs');
    fs.mkdirSync(tarballs);
    const deps: Record<string, string> = {};
    for (const pkg of PACKAGES) {
      const out = npm(['pack', '--json', '--pack-destination', tarballs], path.join(ROOT, pkg));
      const [{ name, filename }] = JSON.parse(out) as Array<{ name: string; filename: string }>;
      deps[name] = `file:tarballs/${path.basename(filename)}`;
    }
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'grpc-packed-app', private: true, dependencies: deps }, null, 2));
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project);
    fs.writeFileSync(path.join(project, 'feed.proto'), FEED_PROTO);
    fs.writeFileSync(
      path.join(project, 'feed.js'),
      `const { Plexus } = require('@plexus/kernel');
       module.exports = {
         async *Count(ask) {
           const tenant = Plexus.context().attachments.tenant || '';
           for (let n = 0; n < ask.count; n++) yield { n, tenant };
         },
       };`,
    );
    fs.writeFileSync(
      path.join(project, 'provider.yaml'),
      `application: { name: packed-feed }
logLevel: warn
registry: none
protocols: [{ name: grpc, host: 127.0.0.1, port: 0 }]
services:
  - interface: feed.v1.Feed
    implementation: ./feed.js
    proto: ./feed.proto
`,
    );
    fs.writeFileSync(
      path.join(project, 'provider.js'),
      `const { Plexus } = require('@plexus/kernel');
       Plexus.fromConfig(__dirname + '/provider.yaml').then(async (app) => {
         await app.start();
         process.send({ port: app.exportedUrls().find((u) => u.protocol === 'grpc').port });
         process.on('SIGTERM', () => app.stop().then(() => process.exit(0)));
       }).catch((e) => { console.error(e); process.exit(1); });`,
    );
    fs.writeFileSync(
      path.join(project, 'consumer.js'),
      `const { Plexus } = require('@plexus/kernel');
       (async () => {
         const app = Plexus.create({ logLevel: 'warn', registry: 'none', application: { name: 'packed-reader' }, protocols: [{ name: 'grpc', port: 0 }] });
         await app.start();
         const feed = app.refer({ interface: 'feed.v1.Feed', url: 'grpc://127.0.0.1:' + process.argv[2], proto: __dirname + '/feed.proto', retries: 0, timeout: 10000, methods: { Count: { stream: true } } });
         const items = [];
         await Plexus.withAttachments({ tenant: 'packed' }, async () => {
           for await (const item of feed.Count({ count: 500 })) items.push(item);
         });
         await app.stop();
         console.log(JSON.stringify(items));
       })().catch((e) => { console.error(e); process.exit(1); });`,
    );
  }, 600_000);

  afterAll(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  it('a packed Plexus provider streams 500 messages in order to an unmodified grpc-js client', async () => {
    const provider = fork(path.join(project, 'provider.js'), [], { cwd: project, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    children.push(provider);
    let stderr = '';
    provider.stderr?.on('data', (c) => (stderr += c));
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`packed provider did not start: ${stderr}`)), 30_000);
      provider.once('message', (m: { port: number }) => {
        clearTimeout(t);
        resolve(m.port);
      });
      provider.once('exit', (code) => reject(new Error(`packed provider exited with ${code}: ${stderr}`)));
    });
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(project, 'feed.proto'), { keepCase: true, longs: String, defaults: true })) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const client = new pkg.feed.v1.Feed(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.push(client);
    const md = new grpc.Metadata();
    md.set('tenant', 'grpc-js');
    const items = await new Promise<Array<{ n: number; tenant: string }>>((resolve, reject) => {
      const got: Array<{ n: number; tenant: string }> = [];
      const call = client.Count({ count: 500 }, md);
      call.on('data', (item: { n: number; tenant: string }) => got.push(item));
      call.on('end', () => resolve(got));
      call.on('error', reject);
    });
    expect(items.map((i) => i.n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(items.every((i) => i.tenant === 'grpc-js')).toBe(true);
    provider.kill('SIGTERM');
  }, 60_000);

  it('a packed Plexus consumer reads 500 messages in order from an unmodified grpc-js server', async () => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(project, 'feed.proto'), { keepCase: true, longs: String, defaults: true })) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const server = new grpc.Server();
    server.addService(pkg.feed.v1.Feed.service, {
      Count(call: grpc.ServerWritableStream<{ count: number }, unknown>) {
        const tenant = String(call.metadata.get('tenant')[0] ?? '');
        for (let n = 0; n < call.request.count; n++) call.write({ n, tenant });
        call.end();
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    try {
      const out = await new Promise<string>((resolve, reject) => {
        // async: the grpc-js server answers from this process's event loop
        const child = fork(path.join(project, 'consumer.js'), [String(port)], { cwd: project, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
        children.push(child);
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (c) => (stdout += c));
        child.stderr?.on('data', (c) => (stderr += c));
        const t = setTimeout(() => reject(new Error(`packed consumer did not finish: ${stderr}`)), 30_000);
        child.once('exit', (code) => {
          clearTimeout(t);
          if (code === 0) resolve(stdout);
          else reject(new Error(`packed consumer exited with ${code}: ${stderr}`));
        });
      });
      const items = JSON.parse(out.trim().split('\n').pop()!) as Array<{ n: number; tenant: string }>;
      expect(items.map((i) => i.n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect(items.every((i) => i.tenant === 'packed')).toBe(true);
    } finally {
      server.forceShutdown();
    }
  }, 60_000);
});

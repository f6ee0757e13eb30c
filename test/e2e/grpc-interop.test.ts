/**
 * gRPC interop end to end on 127.0.0.1: a provider started from a config file (its `proto:`
 * relative to that file) serves `plexus`, `grpc` and `http` at once; an unmodified grpc-js client,
 * a Plexus consumer over each protocol and a plain HTTP client all get answers. A malformed .proto
 * fails start() with its file and line.
 */
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

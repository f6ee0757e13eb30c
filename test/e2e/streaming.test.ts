import { execFileSync, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packedProject } from './helpers';

/**
 * Streams between two processes over the plexus protocol, from the packages as published: the
 * packages the two processes need are packed with `npm pack` and installed into a fresh project
 * outside the monorepo. A provider process streams from async generators; a consumer process
 * reads 20,000 items in order and breaks out of an endless stream, and the provider's generator
 * `finally` is seen to run (the provider counts it and answers the count to a later call, and
 * prints it on stdout).
 */
const PACKAGES = [
  'kernel',
  'plugins/protocol-plexus',
  'plugins/transport-tcp',
  'plugins/serializer-msgpack',
  'plugins/registry-local',
  'plugins/executor',
  'plugins/cluster',
  'plugins/loadbalance',
];

let project: string;

beforeAll(() => {
  project = packedProject('streaming', PACKAGES);

  fs.writeFileSync(
    path.join(project, 'feed.js'),
    `let finallies = 0;
     module.exports = class Feed {
       async *count(n) { for (let i = 0; i < n; i++) yield i; }
       async *endless() {
         try {
           for (let i = 0; ; i++) { yield i; await new Promise((r) => setTimeout(r, 2)); }
         } finally {
           finallies++;
           console.log('finally ' + finallies);
         }
       }
       finallies() { return finallies; }
     };`,
  );
  fs.writeFileSync(
    path.join(project, 'provider.yaml'),
    `application: { name: streaming-provider }
registry: { type: local, dir: ${JSON.stringify(path.join(project, 'registry'))} }
protocol: { name: plexus, host: 127.0.0.1, port: 0 }
services:
  - interface: e2e.Feed
    implementation: ./feed.js
`,
  );
  fs.writeFileSync(
    path.join(project, 'provider.js'),
    `const { Plexus } = require('@plexus/kernel');
     Plexus.fromConfig(__dirname + '/provider.yaml').then(async (app) => {
       await app.start();
       process.send({ port: app.exportedUrls().find((u) => u.protocol === 'plexus').port });
     }).catch((e) => { console.error(e); process.exit(1); });`,
  );
  fs.writeFileSync(
    path.join(project, 'consumer.js'),
    `const { Plexus } = require('@plexus/kernel');
     (async () => {
       const url = 'plexus://127.0.0.1:' + process.argv[2];
       const app = Plexus.create({
         application: { name: 'streaming-consumer' },
         references: { feed: { interface: 'e2e.Feed', url, timeout: 30000, retries: 0, methods: { count: { stream: true }, endless: { stream: true } } } },
       });
       await app.start();
       const feed = app.reference('feed');
       let expected = 0;
       let outOfOrder = 0;
       for await (const i of feed.count(20000)) { if (i !== expected) outOfOrder++; expected++; }
       const before = await feed.finallies();
       let read = 0;
       for await (const i of feed.endless()) { read++; if (i === 5) break; }
       let after = before;
       for (let tries = 0; tries < 200 && after === before; tries++) {
         await new Promise((r) => setTimeout(r, 10));
         after = await feed.finallies();
       }
       await app.stop();
       console.log(JSON.stringify({ items: expected, outOfOrder, read, before, after }));
     })().catch((e) => { console.error(e); process.exit(1); });`,
  );
}, 600_000);

afterAll(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

it('streams 20,000 items in order between two processes, and a break runs the provider generator finally', async () => {
  const provider = fork(path.join(project, 'provider.js'), [], { cwd: project, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn' } });
  let stdout = '';
  let stderr = '';
  provider.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  provider.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`streaming provider did not start: ${stderr}`)), 30_000);
      provider.once('message', (m: { port: number }) => {
        clearTimeout(t);
        resolve(m.port);
      });
      provider.once('exit', (code) => reject(new Error(`streaming provider exited with ${code}: ${stderr}`)));
    });
    const out = execFileSync(process.execPath, [path.join(project, 'consumer.js'), String(port)], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    const result = JSON.parse(out.trim().split('\n').pop()!);
    expect(result).toEqual({ items: 20000, outOfOrder: 0, read: 6, before: 0, after: 1 });
    // The provider process itself reported the finally.
    const deadline = Date.now() + 5000;
    while (!stdout.includes('finally 1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(stdout).toContain('finally 1');
  } finally {
    if (provider.pid !== undefined && provider.exitCode === null) provider.kill('SIGTERM');
  }
}, 120_000);

import { execFileSync, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageFolders, packedProject } from './helpers';

/**
 * The published shape: every publishable package packed with `npm pack`, installed into a fresh
 * project outside the monorepo, and used there by a provider process started from a config file
 * and a consumer process with direct `url:` references. Catches path imports into sibling
 * sources, files missing from `files`, and dependencies that only the workspace hoisting provided.
 */
let project: string;

beforeAll(() => {
  project = packedProject('packed', packageFolders());

  fs.writeFileSync(
    path.join(project, 'greeter.js'),
    `module.exports = class Greeter {
       echo(v) { return v; }
       kinds(v) { return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x instanceof Date ? 'Date' : Buffer.isBuffer(x) || x instanceof Uint8Array ? 'binary' : typeof x])); }
       size(b) { return b.length; }
     };`,
  );
  fs.writeFileSync(
    path.join(project, 'provider.yaml'),
    `application: { name: packed-provider }
protocol: { name: plexus, host: 127.0.0.1, port: 0, compressor: lz4 }
services:
  - interface: packed.Greeter
    version: 1.0.0
    implementation: ./greeter.js
    compressor: snappy
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
       const base = { interface: 'packed.Greeter', version: '1.0.0', url };
       const app = Plexus.create({ references: { mp: { ...base }, js: { ...base, serializer: 'json' }, lz4: { ...base, compressor: 'lz4' }, sn: { ...base, compressor: 'snappy' } } });
       const value = { when: new Date(0), blob: Buffer.from([1, 2, 3]) };
       const mp = await app.reference('mp').echo(value);
       const out = {
         msgpack: { date: mp.when instanceof Date, binary: Buffer.isBuffer(mp.blob) || mp.blob instanceof Uint8Array, seen: await app.reference('mp').kinds(value) },
         json: { when: typeof (await app.reference('js').echo(value)).when, seen: await app.reference('js').kinds(value) },
         lz4: await app.reference('lz4').size(Buffer.alloc(1 << 20, 7)),
         snappy: await app.reference('sn').size(Buffer.alloc(1 << 20, 7)),
       };
       await app.stop();
       console.log(JSON.stringify(out));
     })().catch((e) => { console.error(e); process.exit(1); });`,
  );
}, 600_000);

afterAll(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

it('installs from tarballs and serves calls between two processes', async () => {
  const provider = fork(path.join(project, 'provider.js'), [], { cwd: project, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn' } });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('packed provider did not start')), 30_000);
      provider.once('message', (m: { port: number }) => {
        clearTimeout(t);
        resolve(m.port);
      });
      provider.once('exit', (code) => reject(new Error(`packed provider exited with ${code}`)));
    });
    const out = execFileSync(process.execPath, [path.join(project, 'consumer.js'), String(port)], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    const result = JSON.parse(out.trim().split('\n').pop()!);
    expect(result.msgpack).toEqual({ date: true, binary: true, seen: { when: 'Date', blob: 'binary' } });
    expect(result.json).toEqual({ when: 'string', seen: { when: 'string', blob: 'object' } });
    expect(result.lz4).toBe(1 << 20);
    expect(result.snappy).toBe(1 << 20);
  } finally {
    provider.kill('SIGTERM');
  }
}, 120_000);

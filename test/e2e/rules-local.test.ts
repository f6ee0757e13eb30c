import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packProject, Processes, until, type Consumer, type Provider } from '../fixtures/registries/harness';

/**
 * Issue 9's "a weight override written to the registry shifts traffic within seconds", from
 * packed tarballs over the embedded `local` registry: two provider processes, a consumer process
 * calling in a loop (smooth weighted round robin), and an operator process that writes, lists and
 * removes the override through `app.rules`. Every process is tracked by PID and killed in
 * afterAll; everything listens on 127.0.0.1.
 */

/** The interface the registry fixtures serve (test/fixtures/registries/provider.js). */
const IFACE = 'e2e.registry.Who';
/** How soon an override must show in the consumer's traffic: the local registry's watch or its 500 ms poll, plus margin for a loaded machine. */
const SHIFT_WITHIN_MS = 10_000;

/** The operator: one `app.rules` call per process run, its answer printed as JSON. */
const OPERATOR = `'use strict';
const { Plexus } = require('@plexus/kernel');
const { registry, action, arg, iface } = JSON.parse(process.argv[2]);
(async () => {
  const app = Plexus.create({ application: { name: 'rules-e2e-operator', handleSignals: false }, logLevel: 'warn', registry });
  try {
    let out;
    if (action === 'override') out = await app.rules.override(arg);
    else if (action === 'list') out = await app.rules.list(iface);
    else if (action === 'remove') out = await app.rules.remove(arg, iface);
    process.stdout.write(JSON.stringify({ ok: out }));
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }));
  } finally {
    await app.stop();
  }
})();
`;

let project: string;
let procs: Processes;
let dir: string;
const providers: Provider[] = [];
let consumer: Consumer | undefined;

const registry = () => ({ type: 'local', dir });

function operator(action: 'override' | 'list' | 'remove', arg?: unknown): Promise<{ ok?: unknown; error?: { code: string; message: string } }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(project, 'rules-operator.js'), JSON.stringify({ registry: { ...registry(), snapshot: false }, action, arg, iface: IFACE })],
      { cwd: project, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`operator ${action} failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout));
        } catch {
          reject(new Error(`operator ${action} printed no JSON: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** The share of calls that reached `port` over the next `calls` successful calls (counts reset first). */
async function shareOf(c: Consumer, port: number, calls: number): Promise<{ share: number; ok: number; failed: number }> {
  await c.reset();
  const s = await c.waitCalls(calls, 20_000, `${calls} calls`);
  return { share: (s.byPort[port] ?? 0) / s.ok, ok: s.ok, failed: s.failed };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-rules-e2e-local-'));
  project = packProject('rules-local');
  fs.writeFileSync(path.join(project, 'rules-operator.js'), OPERATOR);
  procs = new Processes(project);
}, 240_000);

afterAll(async () => {
  await procs?.killAll();
  for (const d of [project, dir]) if (d) fs.rmSync(d, { recursive: true, force: true });
}, 60_000);

it('a weight override written through app.rules shifts traffic between two provider processes within seconds, and removing it shifts it back', async () => {
  providers.push(await procs.provider(registry()), await procs.provider(registry()));
  const [a, b] = providers;
  consumer = await procs.consumer({ ...registry(), snapshot: false }, 'rules-e2e-consumer');
  await consumer.waitListed([a.port, b.port], 30_000, 'both providers listed');

  const before = await shareOf(consumer, a.port, 400);
  expect(before.failed).toBe(0);
  expect(before.share).toBeGreaterThan(0.4);
  expect(before.share).toBeLessThan(0.6);

  const written = await operator('override', { interface: IFACE, address: `127.0.0.1:${a.port}`, weight: 900, id: 'e2e-shift' });
  expect(written.error).toBeUndefined();
  const writtenAt = Date.now();
  // Smooth weighted round robin at 900:100 sends 9 of every 10 calls to a.
  let last: { share: number; ok: number; failed: number } | undefined;
  await until(
    async () => {
      last = await shareOf(consumer!, a.port, 100);
      return last.share >= 0.85;
    },
    SHIFT_WITHIN_MS,
    'traffic shifted to the heavier provider',
    () => last,
  );
  expect(Date.now() - writtenAt).toBeLessThan(SHIFT_WITHIN_MS);
  const shifted = await shareOf(consumer, a.port, 1000);
  expect(shifted.failed).toBe(0);
  expect(shifted.share).toBeGreaterThan(0.87);
  expect(shifted.share).toBeLessThan(0.93);

  const listed = await operator('list');
  expect(listed.ok).toEqual([expect.objectContaining({ id: 'e2e-shift', kind: 'override', override: expect.objectContaining({ weight: 900, address: `127.0.0.1:${a.port}` }) })]);

  expect((await operator('remove', 'e2e-shift')).ok).toBe(1);
  await until(
    async () => {
      last = await shareOf(consumer!, a.port, 200);
      return last.share > 0.4 && last.share < 0.6;
    },
    SHIFT_WITHIN_MS,
    'traffic even again',
    () => last,
  );
  expect((await operator('list')).ok).toEqual([]);
  expect((await operator('remove', 'e2e-shift')).error?.code).toBe('PLEXUS_ERR_RULE_NOT_FOUND');

  const final = await consumer.stop();
  expect({ failed: final.failed, errors: final.errors.slice(0, 3) }).toEqual({ failed: 0, errors: [] });
}, 180_000);

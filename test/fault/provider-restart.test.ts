import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Plexus, RpcError } from '@plexus/kernel';
import { FIXTURES, startProvider, type ProviderProcess } from '../e2e/helpers';

/** A provider killed and started again on the same port: the shared connection comes back by itself. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

let dir: string;
let provider: ProviderProcess | undefined;
let app: Plexus | undefined;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-restart-'));
});

afterAll(async () => {
  await app?.stop();
  if (provider && provider.child.exitCode === null) provider.child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

it('calls fail with a retryable NETWORK error while the provider is down and succeed once it is back', async () => {
  const port = await freePort();
  const config = path.join(dir, 'provider.yaml');
  fs.writeFileSync(
    config,
    `application: { name: restart }
protocol: { name: plexus, host: 127.0.0.1, port: ${port} }
services:
  - interface: e2e.KitchenSink
    implementation: ${path.join(FIXTURES, 'kitchen-sink.js')}
`,
  );
  provider = await startProvider(config);
  app = Plexus.create({ references: { sink: { interface: 'e2e.KitchenSink', url: `plexus://127.0.0.1:${port}`, retries: 0, timeout: 2000 } } });
  const sink = app.reference<{ echo(v: string): string }>('sink');
  await expect(sink.echo('first')).resolves.toBe('first');

  provider.child.kill('SIGKILL');
  await provider.exited;
  const down = (await sink.echo('down').catch((e) => e)) as RpcError;
  expect(RpcError.is(down)).toBe(true);
  expect(down.code).toBe('NETWORK');
  expect(down.retryable).toBe(true);

  provider = await startProvider(config);
  // Reconnection backs off (100 ms doubling, at most 5 s); poll, bounded.
  const deadline = Date.now() + 15_000;
  let answer: string | undefined;
  while (Date.now() < deadline && answer === undefined) {
    answer = await sink.echo('back').catch(() => undefined);
    if (answer === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  expect(answer).toBe('back');
}, 40_000);

import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Plexus } from '@plexus/kernel';

/**
 * Shutdown under signals (issue 7, finding 8; DESIGN §8, §12), against real provider processes:
 * a second SIGTERM does not cut in-flight calls short, SIGTERM during start stops gracefully, and
 * `shutdownTimeout` bounds the whole stop (not once per stage).
 */
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'shutdown', 'provider.js');

interface Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  output: () => string;
  next: (key: string) => Promise<Record<string, unknown>>;
}

function launch(hookMs: number, shutdownTimeout: number): Started {
  const child = fork(FIXTURE, [String(hookMs), String(shutdownTimeout)], {
    env: { ...process.env, PLEXUS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  child.on('message', (m: Record<string, unknown>) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const next = async (key: string) => {
    const end = Date.now() + 20_000;
    for (;;) {
      const found = messages.find((m) => key in m);
      if (found) return found;
      if (Date.now() > end) throw new Error(`no "${key}" message from the provider: ${out}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  return { child, exited, output: () => out, next };
}

describe('shutdown under signals', () => {
  const started: Started[] = [];
  afterAll(() => {
    for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  });

  it('a second SIGTERM while stopping does not cut in-flight calls short', async () => {
    const p = launch(0, 10_000);
    started.push(p);
    const { port } = (await p.next('port')) as { port: number };
    const consumer = Plexus.create({ application: { name: 'shutdown-consumer' }, logLevel: 'silent', registry: 'none' });
    const slow = consumer.refer<{ slow(ms: number): string }>({ interface: 'fault.Slow', url: `plexus://127.0.0.1:${port}`, timeout: 10_000, retries: 0 });
    const calls = Array.from({ length: 10 }, () => slow.slow(600));
    await new Promise((r) => setTimeout(r, 150));
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    p.child.kill('SIGTERM');
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(Array(10).fill('fulfilled'));
    const exit = await p.exited;
    expect(exit.code).toBe(0);
    expect(p.output()).toContain('received again: already stopping gracefully');
    await consumer.stop();
  });

  it('SIGTERM during start stops gracefully: the start does not finish, the process exits 0', async () => {
    const p = launch(1000, 10_000);
    started.push(p);
    await p.next('starting');
    const sent = Date.now();
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    expect(exit.code).toBe(0);
    // The startup hook in progress (1 s) is let finish; nothing after it runs.
    expect(exit.at - sent).toBeLessThan(3000);
    expect(p.output()).toContain('SIGTERM received: stopping gracefully');
    expect(p.output()).toContain('start of shutdown-provider abandoned');
    expect(p.output()).not.toContain('started shutdown-provider');
    expect(p.output()).toContain('stopped shutdown-provider');
  });

  it('shutdownTimeout bounds the whole stop, not each stage', async () => {
    const p = launch(0, 400);
    started.push(p);
    const { port } = (await p.next('port')) as { port: number };
    const consumer = Plexus.create({ application: { name: 'shutdown-consumer2' }, logLevel: 'silent', registry: 'none' });
    const slow = consumer.refer<{ slow(ms: number): string }>({ interface: 'fault.Slow', url: `plexus://127.0.0.1:${port}`, timeout: 20_000, retries: 0 });
    const stuck = slow.slow(10_000).catch(() => 'cut');
    await new Promise((r) => setTimeout(r, 150));
    const sent = Date.now();
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    expect(exit.code).toBe(0);
    // One 400 ms budget for draining protocols and executors together, plus process exit.
    expect(exit.at - sent).toBeLessThan(750);
    await stuck;
    await consumer.stop();
  });
});

import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

/**
 * Tracing end to end (issue 12, "Done when"): a consumer process and a provider process, each with
 * `filter: [tracing]` and the official OpenTelemetry SDK registered as an application would, export
 * their finished spans to this test over IPC. The consumer's CLIENT span and the provider's SERVER
 * span must share a trace and be parent and child, baggage must arrive, and the spans must carry
 * the §11 names and attributes. Both processes are started here and killed by PID in afterAll.
 */
const FIXTURE = path.join(__dirname, '..', '..', 'plugins', 'filter-tracing', 'test', 'fixtures', 'traced-process.js');

interface SpanMessage {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  status: { code: number };
  pid: number;
}

const children: ChildProcess[] = [];
const spans: SpanMessage[] = [];
let stderr = '';

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Forks a traced process and resolves with its ready message (bounded: 20 s). */
function start(args: string[]): Promise<{ child: ChildProcess; port?: number; pid: number }> {
  const child = fork(FIXTURE, args, { env: { ...process.env, PLEXUS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  children.push(child);
  child.stdout!.resume();
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('message', (m: { span?: SpanMessage }) => {
    if (m?.span) spans.push(m.span);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start in 20 s: ${stderr}`)), 20_000);
    const onMessage = (m: { ready?: boolean; port?: number; pid: number }) => {
      if (!m?.ready) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve({ child, port: m.port, pid: m.pid });
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code} before it was ready: ${stderr}`));
    });
  });
}

function request(consumer: ChildProcess, who: string, tenant: string): Promise<{ result?: string; tenant?: string; traceId?: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from the consumer in 10 s: ${stderr}`)), 10_000);
    const onMessage = (m: { result?: string; error?: string }) => {
      if (m?.result === undefined && m?.error === undefined) return;
      clearTimeout(timer);
      consumer.off('message', onMessage);
      resolve(m);
    };
    consumer.on('message', onMessage);
    consumer.send({ call: 'greet', who, tenant });
  });
}

async function spansOfTrace(traceId: string, count: number): Promise<SpanMessage[]> {
  const end = Date.now() + 5000;
  for (;;) {
    const found = spans.filter((s) => s.traceId === traceId);
    if (found.length >= count) return found;
    if (Date.now() > end) throw new Error(`only ${found.length} of ${count} spans of trace ${traceId} arrived: ${JSON.stringify(spans)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const CLIENT = 2;
const SERVER = 1;

describe('tracing across two processes', () => {
  it("the consumer's CLIENT span and the provider's SERVER span share a trace and are parent and child", async () => {
    const provider = await start(['provider']);
    const consumer = await start(['consumer', String(provider.port)]);
    expect(provider.pid).not.toBe(consumer.pid);

    const answer = await request(consumer.child, 'ada', 'acme');
    expect(answer.error).toBeUndefined();
    expect(answer.result).toBe(`hello ada from ${provider.pid}`);
    expect(answer.tenant).toBe('acme');

    // root + (CLIENT, SERVER) for greet + (CLIENT, SERVER) for tenant
    const inTrace = await spansOfTrace(answer.traceId!, 5);
    const root = inTrace.find((s) => s.name === 'e2e-request')!;
    const client = inTrace.find((s) => s.name === 'e2e.trace.Greeter/greet' && s.kind === CLIENT)!;
    const server = inTrace.find((s) => s.name === 'e2e.trace.Greeter/greet' && s.kind === SERVER)!;
    expect(root).toBeDefined();
    expect(client).toBeDefined();
    expect(server).toBeDefined();
    expect(client.pid).toBe(consumer.pid);
    expect(server.pid).toBe(provider.pid);
    expect(client.parentSpanId).toBe(root.spanId);
    expect(server.parentSpanId).toBe(client.spanId);
    expect(client.attributes).toMatchObject({
      'rpc.system': 'plexus',
      'rpc.service': 'e2e.trace.Greeter',
      'rpc.method': 'greet',
      'server.address': '127.0.0.1',
      'server.port': provider.port,
    });
    expect(server.attributes).toMatchObject({ 'rpc.system': 'plexus', 'rpc.service': 'e2e.trace.Greeter', 'rpc.method': 'greet' });
    expect(server.status.code).not.toBe(2);

    // A second request is a second trace.
    const again = await request(consumer.child, 'bob', 'other');
    expect(again.tenant).toBe('other');
    expect(again.traceId).not.toBe(answer.traceId);
    const second = await spansOfTrace(again.traceId!, 5);
    expect(second.filter((s) => s.kind === SERVER).every((s) => s.pid === provider.pid)).toBe(true);

    consumer.child.disconnect();
    provider.child.disconnect();
  });
});

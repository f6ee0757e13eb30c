import { NodeAvailability, RpcCode, RpcError, RpcInvocation, type Invocation, type MethodSettings } from '@plexus/kernel/spi';
import { FakeInvoker, MemoryLogger, fakeExtensionContext, filterContract, methodSettings, rejectionOf, waitFor } from '@plexus/kernel/testing';
import plugin, { HEALTH_DEFAULTS, HealthFilter, parseHealthPolicy } from '../src/health-filter';

const ADDRESS = '10.0.0.1:20880';
const invocationOf = (settings: MethodSettings) =>
  new RpcInvocation({ service: 'demo.Greeter', method: 'sayHello', args: ['ada'], attachments: {}, settings });

/** A node the test switches between answering, network failures, timeouts and business errors; `$echo` follows `echo`. */
function node(address = ADDRESS) {
  const state = { mode: 'ok' as 'ok' | 'network' | 'timeout' | 'business' | 'limit', echo: 'down' as 'up' | 'down' | 'hang', echoes: 0 };
  const invoker = new FakeInvoker(`plexus://${address}/demo.Greeter`, {
    handler: (inv: Invocation) => {
      if (inv.method === '$echo') {
        state.echoes++;
        if (state.echo === 'up') return { value: inv.args[0] };
        if (state.echo === 'hang') {
          return new Promise((_, reject) => inv.addCancelListener({ onCancel: (r) => reject(r) }));
        }
        throw new RpcError('connection refused', RpcCode.NETWORK);
      }
      if (state.mode === 'network') throw new RpcError('connection refused', RpcCode.NETWORK);
      if (state.mode === 'timeout') throw new RpcError('late', RpcCode.TIMEOUT);
      if (state.mode === 'business') throw new RpcError('no stock', RpcCode.SERVICE_ERROR);
      if (state.mode === 'limit') throw new RpcError('circuit open', RpcCode.LIMIT_EXCEEDED);
      return { value: 'ok' };
    },
  });
  return { state, invoker };
}

function setup(health: Record<string, number> | true) {
  const logger = new MemoryLogger();
  const availability = new NodeAvailability();
  const filter = new HealthFilter(availability, logger);
  const settings = methodSettings({ params: { health: health === true ? 'true' : JSON.stringify(health) } });
  const call = (inv: FakeInvoker) => filter.invoke(inv, invocationOf(settings)).then(() => 'ok', (e: RpcError) => e.code);
  return { logger, availability, filter, settings, call };
}

const filters: HealthFilter[] = [];
afterEach(() => filters.splice(0).forEach((f) => f.close()));

filterContract('health', () => new HealthFilter(new NodeAvailability(), new MemoryLogger()), {
  invocation: { settings: { params: { health: JSON.stringify({ minCalls: 1000, failures: 1000 }) } } },
});

describe('health', () => {
  it('suspends a node after `failures` network errors in a row, probes it with $echo, restores it when a probe answers', async () => {
    const t = setup({ failures: 3, probeMs: 20, probeTimeout: 200 });
    filters.push(t.filter);
    const n = node();
    n.state.mode = 'network';
    await t.call(n.invoker);
    await t.call(n.invoker);
    expect(t.availability.suspensionOf(ADDRESS)).toBeUndefined();
    await t.call(n.invoker);
    expect(t.availability.suspensionOf(ADDRESS)?.reason).toContain('3 network failures in a row');
    expect(t.logger.entries.some((e) => e.fields?.code === 'PLEXUS_ERR_HEALTH_SUSPENDED')).toBe(true);
    await waitFor(() => n.state.echoes >= 2, 2000, 'two failed probes');
    expect(t.availability.suspensionOf(ADDRESS)).toBeDefined();
    n.state.echo = 'up';
    await waitFor(() => t.availability.suspensionOf(ADDRESS) === undefined, 2000, 'the node restored');
    expect(t.filter.isSuspended(ADDRESS)).toBe(false);
    const probes = n.state.echoes;
    await new Promise((r) => setTimeout(r, 80));
    expect(n.state.echoes).toBe(probes); // probing stopped
  });

  it('a success between network failures resets the run', async () => {
    const t = setup({ failures: 3, minCalls: 1000 });
    const n = node();
    for (let i = 0; i < 10; i++) {
      n.state.mode = i % 3 === 2 ? 'ok' : 'network';
      await t.call(n.invoker);
    }
    expect(t.availability.suspensionOf(ADDRESS)).toBeUndefined();
  });

  it('suspends when the success rate in the window drops below minRate after minCalls; business errors count as answers', async () => {
    const t = setup({ minRate: 60, minCalls: 10, failures: 1000, probeMs: 10_000 });
    filters.push(t.filter);
    const n = node();
    n.state.mode = 'business';
    for (let i = 0; i < 20; i++) await t.call(n.invoker);
    expect(t.availability.suspensionOf(ADDRESS)).toBeUndefined();
    n.state.mode = 'timeout';
    for (let i = 0; i < 13; i++) await t.call(n.invoker); // 20 of 33 = 60.6 %
    expect(t.availability.suspensionOf(ADDRESS)).toBeUndefined();
    await t.call(n.invoker); // 20 of 34 = 58.8 %
    expect(t.availability.suspensionOf(ADDRESS)?.reason).toContain('59% of 34 calls');
  });

  it('limit refusals (an open circuit, a rate limit) are not counted: they do not hide a failing node', async () => {
    const t = setup({ minRate: 50, minCalls: 4, failures: 1000, probeMs: 10_000 });
    filters.push(t.filter);
    const n = node();
    n.state.mode = 'limit';
    for (let i = 0; i < 50; i++) await t.call(n.invoker);
    n.state.mode = 'timeout';
    for (let i = 0; i < 4; i++) await t.call(n.invoker);
    expect(t.availability.suspensionOf(ADDRESS)?.reason).toContain('0% of 4 calls');
  });

  it('a probe that hangs is cut at probeTimeout and the node stays out', async () => {
    const t = setup({ failures: 1, probeMs: 30, probeTimeout: 50 });
    filters.push(t.filter);
    const n = node();
    n.state.mode = 'network';
    n.state.echo = 'hang';
    await t.call(n.invoker);
    await waitFor(() => n.state.echoes >= 2, 2000, 'a second probe after the first timed out');
    expect(t.availability.suspensionOf(ADDRESS)).toBeDefined();
  });

  it('close() stops probing and restores its nodes', async () => {
    const t = setup({ failures: 1, probeMs: 10 });
    const n = node();
    n.state.mode = 'network';
    await t.call(n.invoker);
    expect(t.availability.suspensionOf(ADDRESS)).toBeDefined();
    t.filter.close();
    expect(t.availability.suspensionOf(ADDRESS)).toBeUndefined();
    const probes = n.state.echoes;
    await new Promise((r) => setTimeout(r, 50));
    expect(n.state.echoes).toBe(probes);
  });

  it('is inert without the key', async () => {
    const availability = new NodeAvailability();
    const filter = new HealthFilter(availability, new MemoryLogger());
    const n = node();
    n.state.mode = 'network';
    const s = methodSettings();
    for (let i = 0; i < 10; i++) await rejectionOf(filter.invoke(n.invoker, invocationOf(s)));
    expect(availability.empty).toBe(true);
  });

  it('parses true to the documented defaults and refuses bad values with PLEXUS_ERR_HEALTH_CONFIG', async () => {
    expect(parseHealthPolicy('true', 'x')).toEqual(HEALTH_DEFAULTS);
    expect(parseHealthPolicy(undefined, 'x')).toBeUndefined();
    for (const bad of ['{"minRate":101}', '{"probeMs":0}', '{"probe":5}', 'yes']) {
      expect(() => parseHealthPolicy(bad, 'x')).toThrow(expect.objectContaining({ code: 'PLEXUS_ERR_HEALTH_CONFIG' }));
    }
    const filter = new HealthFilter(new NodeAvailability(), new MemoryLogger());
    const err = await rejectionOf(filter.invoke(node().invoker, invocationOf(methodSettings({ params: { health: '{"minRate":0.5}' } }))));
    expect(err.reason).toBe('PLEXUS_ERR_HEALTH_CONFIG');
  });

  it('declares the key and the consumer invoker stage', () => {
    const def = plugin.extensions[0];
    expect(def.keys).toEqual(['health']);
    expect(def.activate).toMatchObject({ side: ['consumer'], stage: 'invoker' });
    const f = def.create(fakeExtensionContext({}, { values: new Map([[Symbol.for('plexus.nodeAvailability'), new NodeAvailability()]]) }));
    expect(f).toBeInstanceOf(HealthFilter);
  });
});

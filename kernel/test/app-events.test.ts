import { Plexus, EVENTS, NODE_AVAILABILITY, definePlugin, type PlexusEvent } from '../src';
import type { AppEvents } from '../src/app/events';
import type { NodeAvailability } from '../src/cluster/node-availability';
import { MemoryRegistry } from '../src/testing';

describe('app events', () => {
  it('tells listeners of start, export, registration, providers joining and leaving, nodes suspended and restored, and stop', async () => {
    const registry = new MemoryRegistry();
    const plugin = definePlugin({ name: 'mem', extensions: [{ point: 'registry', name: 'mem', create: () => registry }] });
    const provider = Plexus.create({
      application: { name: 'ev-provider' },
      registry: { type: 'mem' } as never,
      protocol: { name: 'plexus', host: '127.0.0.1', port: 0 },
    });
    provider.use(plugin);
    provider.provide({ interface: 'ev.Echo' }, { echo: (v: unknown) => v });
    const seen: PlexusEvent[] = [];
    provider.on('*', (e) => seen.push(e));
    await provider.start();
    expect(provider.ready).toBe(true);
    expect(seen.map((e) => e.type)).toEqual(expect.arrayContaining(['service:exported', 'service:registered', 'app:started']));
    expect(seen.find((e) => e.type === 'service:registered')).toMatchObject({ service: 'ev.Echo' });

    const consumer = Plexus.create({ application: { name: 'ev-consumer' }, registry: { type: 'mem' } as never, references: { echo: { interface: 'ev.Echo' } } });
    consumer.use(plugin);
    const up: PlexusEvent[] = [];
    consumer.on('provider:up', (e) => up.push(e));
    consumer.on('provider:down', (e) => up.push(e));
    consumer.on('node:suspended', (e) => up.push(e));
    consumer.on('node:restored', (e) => up.push(e));
    await consumer.start();
    try {
      await expect(consumer.reference<{ echo(v: string): Promise<string> }>('echo').echo('hi')).resolves.toBe('hi');
      expect(up[0]).toMatchObject({ type: 'provider:up', service: 'ev.Echo' });
      const address = up[0].address as string;
      const availability = (consumer as unknown as { container: { resolve<T>(t: symbol): T } }).container.resolve<NodeAvailability>(NODE_AVAILABILITY);
      availability.suspend(address, 'test', 0, 'tester');
      availability.restore(address, 'tester');
      expect(up.slice(1).map((e) => [e.type, e.address, e.holder])).toEqual([
        ['node:suspended', address, 'tester'],
        ['node:restored', address, 'tester'],
      ]);
      await provider.stop();
      expect(provider.ready).toBe(false);
      expect(seen.map((e) => e.type)).toEqual(expect.arrayContaining(['app:stopping', 'service:unregistered', 'app:stopped']));
      const deadline = Date.now() + 3000;
      while (!up.some((e) => e.type === 'provider:down') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(up.find((e) => e.type === 'provider:down')).toMatchObject({ service: 'ev.Echo', address });
    } finally {
      await consumer.stop();
      await provider.stop();
    }
  });

  it('a listener that throws is logged with a code and the others still hear the event', () => {
    const warnings: unknown[] = [];
    const app = Plexus.create({ application: { name: 'ev-throw' } });
    const events = (app as unknown as { container: { resolve<T>(t: symbol): T } }).container.resolve<AppEvents>(EVENTS);
    (app.logger as unknown as { warn: (m: string, f?: unknown) => void }).warn = (m, f) => void warnings.push([m, f]);
    const heard: string[] = [];
    app.on('circuit:open', () => {
      throw new Error('bad listener');
    });
    app.on('circuit:open', (e) => heard.push(String(e.address)));
    events.emit('circuit:open', { address: '10.0.0.1:1' });
    expect(heard).toEqual(['10.0.0.1:1']);
    expect(JSON.stringify(warnings)).toContain('PLEXUS_ERR_APP_EVENT_LISTENER');
    expect(events.wants('nobody:listens')).toBe(false);
  });
});

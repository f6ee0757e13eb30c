import { NodeAvailability } from '../src/cluster/node-availability';
import { waitFor } from '../src/testing';

describe('NodeAvailability', () => {
  it('suspends and restores a node, telling listeners of each change', () => {
    const nodes = new NodeAvailability();
    let changes = 0;
    const stop = nodes.onChange(() => changes++);
    expect(nodes.empty).toBe(true);
    nodes.suspend('10.0.0.1:1', 'test');
    expect(nodes.empty).toBe(false);
    expect(nodes.suspensionOf('10.0.0.1:1')).toMatchObject({ reason: 'test', until: 0, holder: '' });
    nodes.restore('10.0.0.1:1');
    expect(nodes.suspensionOf('10.0.0.1:1')).toBeUndefined();
    expect(changes).toBe(2);
    nodes.restore('10.0.0.1:1'); // nothing to restore: no change
    expect(changes).toBe(2);
    stop();
    nodes.suspend('10.0.0.1:1', 'unheard');
    expect(changes).toBe(2);
  });

  it('holders suspend one node independently: the node returns when every holder has let go', () => {
    const nodes = new NodeAvailability();
    nodes.suspend('10.0.0.1:1', 'circuit open', 60_000, 'circuitbreaker:a#m');
    nodes.suspend('10.0.0.1:1', 'unhealthy', 0, 'health#1');
    // The indefinite suspension is the one reported.
    expect(nodes.suspensionOf('10.0.0.1:1')?.holder).toBe('health#1');
    nodes.restore('10.0.0.1:1', 'circuitbreaker:a#m');
    expect(nodes.suspensionOf('10.0.0.1:1')?.reason).toBe('unhealthy');
    expect(nodes.heldBy('10.0.0.1:1', 'circuitbreaker:a#m')).toBeUndefined();
    nodes.restore('10.0.0.1:1', 'health#1');
    expect(nodes.suspensionOf('10.0.0.1:1')).toBeUndefined();
    expect(nodes.empty).toBe(true);
  });

  it('restore without a holder lifts every suspension of the node; a holder that holds nothing changes nothing', () => {
    const nodes = new NodeAvailability();
    let changes = 0;
    nodes.onChange(() => changes++);
    nodes.suspend('n:1', 'a', 0, 'x');
    nodes.suspend('n:1', 'b', 0, 'y');
    nodes.restore('n:1', 'z');
    expect(changes).toBe(2);
    nodes.restore('n:1');
    expect(nodes.empty).toBe(true);
    expect(changes).toBe(3);
  });

  it('a timed suspension lapses by itself, the listeners are told once, and a longer one stays', async () => {
    const nodes = new NodeAvailability();
    let changes = 0;
    nodes.onChange(() => changes++);
    nodes.suspend('n:1', 'short', 40, 'breaker');
    nodes.suspend('n:2', 'long', 5_000, 'breaker');
    expect(changes).toBe(2);
    await new Promise((r) => setTimeout(r, 60));
    expect(nodes.suspensionOf('n:1')).toBeUndefined();
    await waitFor(() => changes === 3, 2000, 'the lapse told');
    await new Promise((r) => setTimeout(r, 30));
    expect(changes).toBe(3);
    expect(nodes.suspensionOf('n:2')?.reason).toBe('long');
  });

  it('a second suspension by the same holder replaces the first', () => {
    const nodes = new NodeAvailability();
    nodes.suspend('n:1', 'first', 0, 'h');
    nodes.suspend('n:1', 'second', 10_000, 'h');
    expect(nodes.suspensionOf('n:1')).toMatchObject({ reason: 'second', holder: 'h' });
    expect(nodes.suspensionOf('n:1')!.until).toBeGreaterThan(Date.now());
  });
});

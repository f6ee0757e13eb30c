import { resolveConfig } from '../src';

describe('group lists', () => {
  it('a reference takes a YAML list of groups, carried as the comma form its directory merges', () => {
    const c = resolveConfig({ code: { references: { a: { interface: 'x.Y', group: ['g1', 'g2'] as never } } }, env: {} });
    expect(c.references.a.group).toBe('g1,g2');
    const d = resolveConfig({ code: { references: { a: { interface: 'x.Y', group: 'g1, g2' } } }, env: {} });
    expect(d.references.a.group).toBe('g1, g2');
  });

  it('a service belongs to one group: a list there is a config error naming the key', () => {
    expect(() => resolveConfig({ code: { services: [{ interface: 'x.Y', group: ['g1'] as never }] }, env: {} })).toThrow(/services.*group|group/);
  });
});

describe('provider-only keys on the consumer side', () => {
  it('refuses delay, weight, warmup and shutdownTimeout under consumer: or a reference, saying why', () => {
    for (const code of [{ consumer: { weight: 5 } }, { references: { a: { interface: 'x.Y', warmup: 10 } } }]) {
      expect(() => resolveConfig({ code: code as never, env: {} })).toThrow(/read by providers only/);
    }
    expect(() => resolveConfig({ code: { provider: { weight: 5, warmup: 10 } }, env: {} })).not.toThrow();
  });
});

describe('consumer-only keys on the provider side', () => {
  it('refuses retries, cluster and loadbalance under provider: or a service, saying why', () => {
    for (const code of [{ provider: { retries: 2 } }, { services: [{ interface: 'x.Y', loadbalance: 'roundrobin' }] }]) {
      expect(() => resolveConfig({ code: code as never, env: {} })).toThrow(/read by consumers only/);
    }
    expect(() => resolveConfig({ code: { consumer: { retries: 2, loadbalance: 'roundrobin' } }, env: {} })).not.toThrow();
  });
});

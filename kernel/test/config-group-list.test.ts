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

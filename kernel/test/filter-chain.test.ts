import { buildFilterChain, selectFilterNames } from '../src/pipeline/filter-chain';
import type { Filter, Invocation, Invoker, Result } from '../src/spi';
import { URL } from '../src/url/url';

describe('selectFilterNames (Dubbo rule)', () => {
  const defaults = ['context', 'timeout', 'accesslog'];
  it('keeps defaults and appends user filters', () => {
    expect(selectFilterNames(defaults, ['mine'])).toEqual(['context', 'timeout', 'accesslog', 'mine']);
  });
  it('removes -name', () => {
    expect(selectFilterNames(defaults, ['-timeout', 'mine'])).toEqual(['context', 'accesslog', 'mine']);
  });
  it('drops all defaults with -default', () => {
    expect(selectFilterNames(defaults, ['-default', 'mine'])).toEqual(['mine']);
  });
  it('places defaults where `default` stands', () => {
    expect(selectFilterNames(defaults, ['first', 'default', 'last'])).toEqual(['first', 'context', 'timeout', 'accesslog', 'last']);
  });
  it('keeps no duplicates', () => {
    expect(selectFilterNames(defaults, ['timeout'])).toEqual(['context', 'timeout', 'accesslog']);
  });
});

describe('buildFilterChain', () => {
  it('runs filters outermost-first around the terminal invoker', async () => {
    const order: string[] = [];
    const mk = (name: string): Filter => ({
      invoke(next, inv) {
        order.push(`>${name}`);
        return next.invoke(inv).then((r) => {
          order.push(`<${name}`);
          return r;
        });
      },
    });
    const terminal: Invoker = {
      url: URL.parse('x://h:1/s'),
      invoke: async () => {
        order.push('call');
        return { value: 1 } as Result;
      },
    };
    const chain = buildFilterChain(terminal, [mk('a'), mk('b')]);
    await chain.invoke({} as Invocation);
    expect(order).toEqual(['>a', '>b', 'call', '<b', '<a']);
    expect(buildFilterChain(terminal, [])).toBe(terminal);
  });
});

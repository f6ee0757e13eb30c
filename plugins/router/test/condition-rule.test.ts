import { PlexusError, URL } from '@plexus/kernel/spi';
import { CompiledCondition, MAX_CONDITION_BODY, MAX_CONDITION_LINES, parseCondition } from '../src/condition-rule';
import { Glob } from '../src/glob';

const consumer = new URL('consumer', '10.0.0.100', 0, 'demo.Greeter', { application: 'shop', region: 'hz' });
const provider = (address: string, params: Record<string, string> = {}) => {
  const [host, port] = address.split(':');
  return new URL('plexus', host, Number(port ?? 20880), 'demo.Greeter', params);
};

function syntaxError(body: unknown): PlexusError {
  try {
    parseCondition('r1', body as string);
  } catch (err) {
    if (PlexusError.is(err)) return err;
    throw new Error(`expected a PlexusError, got ${String(err)}`);
  }
  throw new Error(`parsed: ${JSON.stringify(body)}`);
}

describe('parseCondition', () => {
  it('reads when and then sides, operators, value lists and prefixes', () => {
    expect(parseCondition('r', 'method = find*,list & consumer.host != 10.0.0.1 => provider.region = hz')).toEqual([
      {
        when: [
          { key: 'method', op: '=', values: ['find*', 'list'] },
          { key: 'host', op: '!=', values: ['10.0.0.1'] },
        ],
        then: [{ key: 'region', op: '=', values: ['hz'] }],
      },
    ]);
  });

  it('accepts an empty when (every call), an empty then (no provider), spacing, comments and several lines', () => {
    const parsed = parseCondition('r', '# gray\n  => tag=gray\r\n\nhost=10.0.0.9 =>   \n');
    expect(parsed).toEqual([
      { when: [], then: [{ key: 'tag', op: '=', values: ['gray'] }] },
      { when: [{ key: 'host', op: '=', values: ['10.0.0.9'] }], then: [] },
    ]);
  });

  it('accepts $param references', () => {
    expect(parseCondition('r', '=> region = $region')[0].then[0].values).toEqual(['$region']);
  });

  it.each([
    ['no arrow', 'method = find', /no "=>"/],
    ['two arrows', 'a = 1 => b = 2 => c', /more than one "=>"/],
    ['empty body', '', /holds no condition/],
    ['only comments', '# nothing\n\n', /holds no condition/],
    ['empty clause', 'a = 1 & & b = 2 =>', /empty condition next to "&"/],
    ['trailing &', '=> a = 1 &', /empty condition next to "&"/],
    ['no operator', 'method find =>', /is not "key = value"/],
    ['no value', 'method = => a = 1', /is not "key = value"/],
    ['empty value in a list', '=> host = a,,b', /empty value/],
    ['double equals', '=> host == a', /holds a space, "=", "!" or "&"/],
    ['space inside a value', '=> host = a b', /holds a space/],
    ['provider key on the when side', 'provider.host = a =>', /belong after "=>"/],
    ['consumer key on the then side', '=> consumer.host = a', /belong before "=>"/],
    ['method on the then side', '=> method = a', /belongs before "=>"/],
    ['bare prefix', 'consumer. = a =>', /is not "key = value"|names no param/],
    ['bad reference', '=> host = $', /not a reference/],
    ['key starting with a digit', '1a = b =>', /is not "key = value"/],
  ])('refuses %s with a coded error naming the rule', (_what, body, message) => {
    const err = syntaxError(body);
    expect(err.code).toBe('PLEXUS_ERR_ROUTER_CONDITION_SYNTAX');
    expect(err.message).toContain('"r1"');
    expect(err.message).toMatch(message);
  });

  it('refuses bodies that are too long or have too many lines, and non-text', () => {
    expect(syntaxError(`=> host = ${'a'.repeat(MAX_CONDITION_BODY)}`).message).toMatch(/more than the 16384 allowed/);
    expect(syntaxError(Array.from({ length: MAX_CONDITION_LINES + 1 }, () => '=> a = 1').join('\n')).message).toMatch(/more than 64 condition lines/);
    expect(syntaxError(undefined).message).toMatch(/not text/);
    expect(syntaxError(null).message).toMatch(/null, not text/);
  });

  it('quotes at most 80 characters of the offending text', () => {
    const err = syntaxError(`method ${'x'.repeat(5000)}`);
    expect(err.message).toContain(`${'x'.repeat(73)}…`);
    expect(err.message).not.toContain('x'.repeat(81));
  });

  it('fuzz: a bounded number of random strings either parse or throw the coded error, never anything else', () => {
    // A fixed-seed generator: the same strings on every run, so a failure can be replayed.
    let seed = 0x9e3779b9;
    const next = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed;
    };
    const alphabet = ['=', '!', '!=', '=>', '&', ',', '*', '$', ' ', '\n', 'a', 'host', 'method', 'provider.', 'consumer.', '10.0.0.1', ':', '#', '\t', 'é', '\u0000'];
    const seeds = ['method = find* & host != 10.0.0.1 => region = hz', '=> address != 10.0.0.3:*', 'application = shop =>', 'method = a,b => provider.tag = $region'];
    let parsed = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      let body: string;
      if (i % 2 === 0) {
        // Random tokens: mostly refused.
        body = '';
        for (let j = 1 + (next() % 12); j > 0; j--) body += alphabet[next() % alphabet.length];
      } else {
        // A valid rule with one to three random edits: reaches deeper into the parser.
        body = seeds[next() % seeds.length];
        for (let j = 1 + (next() % 3); j > 0; j--) {
          const at = next() % (body.length + 1);
          body = next() % 2 ? body.slice(0, at) + alphabet[next() % alphabet.length] + body.slice(at) : body.slice(0, at) + body.slice(at + 1);
        }
      }
      try {
        const conditions = parseCondition('fuzz', body);
        for (const c of conditions) {
          const compiled = new CompiledCondition(c, consumer);
          compiled.appliesTo('find');
          compiled.admits(provider('10.0.0.1:20880', { region: 'hz' }));
        }
        parsed++;
      } catch (err) {
        expect(PlexusError.is(err, 'PLEXUS_ERR_ROUTER_CONDITION_SYNTAX')).toBe(true);
        refused++;
      }
    }
    // Both outcomes occur, so the generator reaches the parser's good and bad paths.
    expect(parsed).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});

describe('CompiledCondition', () => {
  const compile = (line: string) => new CompiledCondition(parseCondition('r', line)[0], consumer);

  it('decides consumer clauses once: host, application, any consumer param, with wildcards', () => {
    expect(compile('host = 10.0.0.* => a = 1').forConsumer).toBe(true);
    expect(compile('consumer.host != 10.0.0.100 => a = 1').forConsumer).toBe(false);
    expect(compile('application = shop & region = hz,sh => a = 1').forConsumer).toBe(true);
    expect(compile('application = other => a = 1').forConsumer).toBe(false);
    // A param the consumer lacks fails "=" and passes "!=".
    expect(compile('zone = * => a = 1').forConsumer).toBe(false);
    expect(compile('zone != x => a = 1').forConsumer).toBe(true);
  });

  it('matches methods by name, list and wildcard', () => {
    const c = compile('method = find*,count & method != findSecret => a = 1');
    expect(c.appliesTo('findUser')).toBe(true);
    expect(c.appliesTo('count')).toBe(true);
    expect(c.appliesTo('findSecret')).toBe(false);
    expect(c.appliesTo('delete')).toBe(false);
  });

  it('admits providers by host, port, address (host alone or host:port), protocol and params', () => {
    expect(compile('=> host = 10.0.0.1').admits(provider('10.0.0.1:1'))).toBe(true);
    expect(compile('=> port = 20880').admits(provider('10.0.0.1:20880'))).toBe(true);
    expect(compile('=> port = 20880').admits(provider('10.0.0.1:20881'))).toBe(false);
    const address = compile('=> address = 10.0.0.1, 10.0.0.2:20881');
    expect(address.admits(provider('10.0.0.1:5'))).toBe(true);
    expect(address.admits(provider('10.0.0.2:20881'))).toBe(true);
    expect(address.admits(provider('10.0.0.2:20880'))).toBe(false);
    const blacklist = compile('=> address != 10.0.0.3:*, 10.0.1.*');
    expect(blacklist.admits(provider('10.0.0.3:7'))).toBe(false);
    expect(blacklist.admits(provider('10.0.1.9:7'))).toBe(false);
    expect(blacklist.admits(provider('10.0.0.4:7'))).toBe(true);
    expect(compile('=> protocol = plexus & region = hz').admits(provider('10.0.0.1', { region: 'hz' }))).toBe(true);
    expect(compile('=> provider.region = hz').admits(provider('10.0.0.1', { region: 'sh' }))).toBe(false);
    expect(compile('=> region != hz').admits(provider('10.0.0.1'))).toBe(true);
  });

  it('resolves $param to the consumer value, literally; an unknown one matches nothing', () => {
    expect(compile('=> region = $region').admits(provider('10.0.0.1', { region: 'hz' }))).toBe(true);
    expect(compile('=> region = $region').admits(provider('10.0.0.1', { region: 'sh' }))).toBe(false);
    expect(compile('=> host = $host').admits(provider('10.0.0.100'))).toBe(true);
    expect(compile('=> zone = $zone').admits(provider('10.0.0.1', { zone: 'x' }))).toBe(false);
    expect(compile('=> zone != $zone').admits(provider('10.0.0.1', { zone: 'x' }))).toBe(true);
    const starry = new CompiledCondition(parseCondition('r', '=> name = $name')[0], consumer.withParams({ name: 'a*' }));
    expect(starry.admits(provider('10.0.0.1', { name: 'abc' }))).toBe(false);
    expect(starry.admits(provider('10.0.0.1', { name: 'a*' }))).toBe(true);
  });
});

describe('Glob', () => {
  it.each([
    ['*', '', true],
    ['*', 'x', true],
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['10.0.*', '10.0.3.4', true],
    ['10.0.*', '10.1.3.4', false],
    ['*.hz', 'a.hz', true],
    ['*.hz', 'a.sh', false],
    ['*gray*', 'v2-gray-1', true],
    ['*gray*', 'v2-blue', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'acb', false],
    ['ab*ba', 'aba', false],
    ['a**b', 'ab', true],
  ])('%s against %s is %s', (pattern, value, expected) => {
    expect(new Glob(pattern).test(value)).toBe(expected);
  });
});

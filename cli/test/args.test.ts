import { PlexusError } from '@plexus/kernel/spi';
import { checkUrlOption, describeJsonError, findJsonError, intOption, MAX_ARGS_TEXT, parseArgsJson, parseRegistryOption } from '../src/args';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return PlexusError.is(err) ? (err as PlexusError).code : `not coded: ${String(err)}`;
  }
  return undefined;
}

describe('parseArgsJson', () => {
  it('takes a JSON array as the argument list, any other value as the only argument, nothing as none', () => {
    expect(parseArgsJson('[40, 2]')).toEqual([40, 2]);
    expect(parseArgsJson('"ada"')).toEqual(['ada']);
    expect(parseArgsJson('{"a":1}')).toEqual([{ a: 1 }]);
    expect(parseArgsJson('[[1,2]]')).toEqual([[1, 2]]);
    expect(parseArgsJson(undefined)).toEqual([]);
    expect(parseArgsJson('  ')).toEqual([]);
  });

  it('names the line, column and offset of the first bad character', () => {
    expect(() => parseArgsJson('[1,}')).toThrow(/unexpected "}" at line 1, column 4 \(offset 3\)/);
    expect(() => parseArgsJson('[1,\n 2,\n x]')).toThrow(/unexpected "x" at line 3, column 2 \(offset 9\)/);
    expect(codeOf(() => parseArgsJson('[1,}'))).toBe('PLEXUS_ERR_CLI_BAD_ARGS_JSON');
  });

  it('explains the usual shell mistakes', () => {
    expect(describeJsonError("['ada']")).toMatch(/single quotes are not JSON.*offset 1/);
    expect(describeJsonError('[1, 2')).toMatch(/expected "," or "]" at line 1, column 6 \(offset 5\)/);
    expect(describeJsonError('{a: 1}')).toMatch(/expected a "quoted" key at line 1, column 2/);
    expect(describeJsonError('"abc')).toMatch(/unterminated string/);
    expect(describeJsonError('[1] 2')).toMatch(/text after the JSON value at line 1, column 5/);
  });

  it('agrees with JSON.parse on what is valid', () => {
    for (const ok of ['[]', '{}', '[1.5e3, -0, "a\\u00e9\\n", true, false, null, {"k": [{}]}]', ' 7 ']) {
      expect(() => JSON.parse(ok)).not.toThrow();
      expect(findJsonError(ok)).toBeUndefined();
    }
    for (const bad of ['[01]', '[1,]', '{"a" 1}', '"\\x"', '[.5]', 'tru', '"\u0001"', '']) {
      expect(() => JSON.parse(bad)).toThrow();
      expect(findJsonError(bad)).toBeDefined();
    }
  });

  it('refuses hostile input without exhausting the stack or memory', () => {
    const deep = '['.repeat(100_000);
    expect(describeJsonError(deep)).toMatch(/nesting deeper than 256/);
    expect(() => parseArgsJson(`"${'x'.repeat(MAX_ARGS_TEXT)}"`)).toThrow(/characters is over/);
  });
});

describe('parseRegistryOption', () => {
  it('turns local:///abs/dir into the local registry folder', () => {
    expect(parseRegistryOption('local:///tmp/reg')).toEqual({ type: 'local', dir: '/tmp/reg' });
    expect(parseRegistryOption('local://')).toEqual({ type: 'local' });
  });

  it('refuses a relative local folder (two slashes)', () => {
    expect(codeOf(() => parseRegistryOption('local://tmp/reg'))).toBe('PLEXUS_ERR_CLI_BAD_TARGET');
  });

  it('reads the address and query options of a server registry', () => {
    expect(parseRegistryOption('zookeeper://127.0.0.1:2181?sessionTimeout=5000&root=x&tls')).toEqual({
      type: 'zookeeper',
      address: '127.0.0.1:2181',
      sessionTimeout: 5000,
      root: 'x',
      tls: true,
    });
    expect(codeOf(() => parseRegistryOption('etcd://'))).toBe('PLEXUS_ERR_CLI_BAD_TARGET');
    expect(codeOf(() => parseRegistryOption('127.0.0.1:2181'))).toBe('PLEXUS_ERR_CLI_BAD_TARGET');
  });
});

describe('options', () => {
  it('checks --url as <protocol>://host:port', () => {
    expect(checkUrlOption('plexus://127.0.0.1:20880')).toBe('plexus://127.0.0.1:20880');
    expect(checkUrlOption('plexus://a:1,plexus://b:2')).toBe('plexus://a:1,plexus://b:2');
    expect(codeOf(() => checkUrlOption('127.0.0.1:20880'))).toBe('PLEXUS_ERR_CLI_BAD_TARGET');
    expect(codeOf(() => checkUrlOption('plexus://127.0.0.1'))).toBe('PLEXUS_ERR_CLI_BAD_TARGET');
  });

  it('parses whole numbers within bounds', () => {
    const parse = intOption('--concurrency', 1, 10);
    expect(parse('7')).toBe(7);
    expect(() => parse('0')).toThrow(/--concurrency must be between 1 and 10, not 0/);
    expect(() => parse('2.5')).toThrow(/whole number/);
    expect(() => parse('ten')).toThrow(/whole number/);
  });
});

import { levenshtein, suggest } from '../src/errors/suggest';
import { readEnvOverrides } from '../src/config/env';

describe('levenshtein', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps', () => {
    expect(levenshtein('', '')).toBe(0);
    expect(levenshtein('abc', '')).toBe(3);
    expect(levenshtein('', 'ab')).toBe(2);
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('refrences', 'references')).toBe(1);
    expect(levenshtein('roundrobn', 'roundrobin')).toBe(1);
    expect(levenshtein('retires', 'retries')).toBe(1); // a swap of adjacent letters is one edit
    expect(levenshtein('abc', 'xyz')).toBe(3);
  });
});

describe('suggest', () => {
  const keys = ['application', 'plugins', 'registry', 'protocol', 'protocols', 'references', 'services'];

  it('returns the nearest candidate when it is a likely typo', () => {
    expect(suggest('refrences', keys)).toBe('references');
    expect(suggest('registy', keys)).toBe('registry');
    expect(suggest('roundrobn', ['random', 'roundrobin', 'leastactive'])).toBe('roundrobin');
  });

  it('ignores case', () => {
    expect(suggest('Services', keys)).toBe('services');
  });

  it('returns undefined when nothing is near', () => {
    expect(suggest('banana', keys)).toBeUndefined();
    expect(suggest('x', [])).toBeUndefined();
  });

  it('honours an explicit distance', () => {
    expect(suggest('plugns', keys, 0)).toBeUndefined();
    expect(suggest('plgns', keys, 2)).toBe('plugins');
  });
});

describe('readEnvOverrides', () => {
  it('lists PLEXUS_* variables that are not config, and skips other variables', () => {
    const out = readEnvOverrides({ PLEXUS_HOME: '/x', HOME: '/root', PLEXUS_CONSUMER_RETRIES: '1' });
    expect(out.ignored).toEqual(['PLEXUS_HOME']);
    expect(out.assignments).toEqual([{ variable: 'PLEXUS_CONSUMER_RETRIES', path: ['consumer', 'retries'], value: 1 }]);
    expect(out.problems).toEqual([]);
  });

  it('matches a key already used in another layer, whatever its case or punctuation', () => {
    const out = readEnvOverrides({ PLEXUS_CONSUMER_HASH_NODES: '160' }, [{ consumer: { 'hash.nodes': 40 } }]);
    expect(out.assignments).toEqual([{ variable: 'PLEXUS_CONSUMER_HASH_NODES', path: ['consumer', 'hash.nodes'], value: 160 }]);
  });

  it('gives protocol and registry extras camelCase names', () => {
    const out = readEnvOverrides({ PLEXUS_PROTOCOL_IDLE_TIMEOUT: '5000', PLEXUS_REGISTRY_SESSION_TIMEOUT: '30000', PLEXUS_PROTOCOL_TLS_CERT: '/c.pem' });
    expect(out.assignments.map((a) => [a.path, a.value])).toEqual([
      [['protocol', 'idleTimeout'], 5000],
      [['registry', 'sessionTimeout'], 30000],
      [['protocol', 'tls', 'cert'], '/c.pem'],
    ]);
  });

  it('suggests the variable meant, keeping the words after the typo', () => {
    const out = readEnvOverrides(
      {
        PLEXUS_CONSUMER_COMPRES_THRESHOLD: '1',
        PLEXUS_EXTENSIONS_LOADBALANCER_P2C_CHOICES: '2',
        PLEXUS_REFERENCES_GREETER_TIMOUT: '1',
        PLEXUS_REFERENCES_GREETER_METHODS_SAY_HELLO_RETRYS: '0',
      },
      [{ references: { greeter: { interface: 'demo.Greeter' } } }],
    );
    expect(out.assignments).toEqual([]);
    expect(out.problems.map((p) => p.message)).toEqual([
      'PLEXUS_CONSUMER_COMPRES_THRESHOLD is not a config key (did you mean PLEXUS_CONSUMER_COMPRESS_THRESHOLD?)',
      'PLEXUS_EXTENSIONS_LOADBALANCER_P2C_CHOICES is not a config key (did you mean PLEXUS_EXTENSIONS_LOADBALANCE_P2C_CHOICES?)',
      'PLEXUS_REFERENCES_GREETER_METHODS_SAY_HELLO_RETRYS is not a config key (did you mean PLEXUS_REFERENCES_GREETER_METHODS_SAY_HELLO_RETRIES?)',
      'PLEXUS_REFERENCES_GREETER_TIMOUT is not a config key (did you mean PLEXUS_REFERENCES_GREETER_TIMEOUT?)',
    ]);
  });

  it('takes a whole new entry only as JSON', () => {
    const out = readEnvOverrides({ PLEXUS_REFERENCES_STOCK: '{"interface":"demo.Stock"}' });
    expect(out.assignments).toEqual([{ variable: 'PLEXUS_REFERENCES_STOCK', path: ['references', 'stock'], value: { interface: 'demo.Stock' } }]);
  });
});

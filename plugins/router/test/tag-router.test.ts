import type { Invoker, RouteRule } from '@plexus/kernel/spi';
import { PlexusError, URL } from '@plexus/kernel/spi';
import { fakeInvocation, FakeInvoker } from '@plexus/kernel/testing';
import plugin, { TagRouter, TAG_ATTACHMENT, TAG_FORCE_ATTACHMENT } from '../src/tag-router';
import { MAX_TAG_BODY, parseTagRule } from '../src/tag-rule';

const consumer = new URL('consumer', '10.0.0.100', 0, 'demo.Greeter', {});
const rule = (id: string, body: unknown, extra: Partial<RouteRule> = {}): RouteRule => ({
  id,
  router: 'tag',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  priority: 0,
  force: false,
  enabled: true,
  ...extra,
});
const at = (n: number, params = '') => new FakeInvoker(`plexus://10.0.0.${n}:20880/demo.Greeter?${params}`);
const hosts = (list: readonly Invoker[]) => list.map((i) => i.url.host.split('.')[3]).join(',');
const tagged = (tag?: string, force = false, settingsTag?: string) =>
  fakeInvocation({
    attachments: { ...(tag === undefined ? {} : { [TAG_ATTACHMENT]: tag }), ...(force ? { [TAG_FORCE_ATTACHMENT]: 'true' } : {}) },
    settings: settingsTag === undefined ? {} : { params: { tag: settingsTag } },
  });

describe('TagRouter', () => {
  const list = [at(1, 'tag=gray'), at(2, 'tag=gray'), at(3, 'tag=blue'), at(4), at(5)];

  it('is the plugin default export under router/tag and claims the config key tag', () => {
    expect(plugin.extensions).toHaveLength(1);
    expect(plugin.extensions[0]).toMatchObject({ point: 'router', name: 'tag', keys: ['tag'] });
    expect(plugin.extensions[0].create({} as never)).toBeInstanceOf(TagRouter);
  });

  it('sends a tagged call to the providers with that tag', () => {
    const router = new TagRouter();
    expect(hosts(router.route(list, tagged('gray')))).toBe('1,2');
    expect(hosts(router.route(list, tagged('blue')))).toBe('3');
  });

  it('sends an untagged call to untagged providers only, or to all when every provider is tagged', () => {
    const router = new TagRouter();
    expect(hosts(router.route(list, tagged()))).toBe('4,5');
    expect(hosts(router.route(list, tagged('')))).toBe('4,5');
    const allTagged = list.slice(0, 3);
    expect(router.route(allTagged, tagged())).toBe(allTagged);
  });

  it('falls back to untagged providers (never another tag) when no provider has the tag, unless forced', () => {
    const router = new TagRouter();
    expect(hosts(router.route(list, tagged('red')))).toBe('4,5');
    expect(router.route(list, tagged('red', true))).toEqual([]);
    // Forcing a tag that exists changes nothing.
    expect(hosts(router.route(list, tagged('gray', true)))).toBe('1,2');
    // No untagged provider either: no provider rather than one of another tag.
    expect(router.route(list.slice(0, 3), tagged('red'))).toEqual([]);
  });

  it('takes the call tag from the reference or method setting when the attachment is absent; the attachment wins', () => {
    const router = new TagRouter();
    expect(hosts(router.route(list, tagged(undefined, false, 'blue')))).toBe('3');
    expect(hosts(router.route(list, tagged('gray', false, 'blue')))).toBe('1,2');
  });

  it('gives tags to provider addresses from a dynamic rule, over the URL tag', () => {
    const router = new TagRouter();
    router.setRules([rule('t', { tags: [{ name: 'gray', addresses: ['10.0.0.4:20880', '10.0.0.3'] }] })], consumer);
    expect(hosts(router.route(list, tagged('gray')))).toBe('1,2,3,4');
    expect(router.route(list, tagged('blue')).map((i) => i.url.host)).toEqual(['10.0.0.5']);
    expect(hosts(router.route(list, tagged()))).toBe('5');
    expect(router.tagOf(list[2].url)).toBe('gray');
  });

  it('matches rule addresses with wildcards, host alone or host:port', () => {
    const router = new TagRouter();
    router.setRules([rule('t', { tags: [{ name: 'canary', addresses: ['10.0.0.*:20880'] }] })], consumer);
    expect(hosts(router.route(list, tagged('canary')))).toBe('1,2,3,4,5');
    router.setRules([rule('t', { tags: [{ name: 'canary', addresses: ['10.0.0.5:1'] }] })], consumer);
    expect(hosts(router.route(list, tagged('canary')))).toBe('4,5');
  });

  it('forces the tags of a rule with force (the rule flag or force in the body)', () => {
    const router = new TagRouter();
    router.setRules([rule('t', { tags: [{ name: 'red', addresses: ['10.9.9.9'] }] }, { force: true })], consumer);
    expect(router.route(list, tagged('red'))).toEqual([]);
    router.setRules([rule('t', { force: true, tags: [{ name: 'red', addresses: [] }] })], consumer);
    expect(router.route(list, tagged('red'))).toEqual([]);
    // Tags the rule does not name keep the default fallback.
    expect(hosts(router.route(list, tagged('green')))).toBe('4,5');
    router.setRules([rule('t', { tags: [{ name: 'red', addresses: [] }] })], consumer);
    expect(hosts(router.route(list, tagged('red')))).toBe('4,5');
  });

  it('applies rules in priority order (an address in two tags gets the first), and leaves disabled rules out', () => {
    const router = new TagRouter();
    router.setRules(
      [
        rule('late', { tags: [{ name: 'blue', addresses: ['10.0.0.4'] }] }, { priority: 9 }),
        rule('early', { tags: [{ name: 'gray', addresses: ['10.0.0.4'] }] }, { priority: 1 }),
        rule('off', { tags: [{ name: 'red', addresses: ['10.0.0.5'] }] }, { enabled: false }),
      ],
      consumer,
    );
    expect(router.tagOf(list[3].url)).toBe('gray');
    expect(router.tagOf(list[4].url)).toBe('');
  });

  it('groups providers once per list: the same array for repeated calls until notify or setRules', () => {
    const router = new TagRouter();
    router.notify(list);
    const gray = router.route(list, tagged('gray'));
    expect(router.route(list, tagged('gray'))).toBe(gray);
    expect(router.route(list, tagged('red'))).toBe(router.route(list, tagged()));
    router.notify(list);
    expect(router.route(list, tagged('gray'))).not.toBe(gray);
    router.setRules([rule('t', { tags: [{ name: 'gray', addresses: ['10.0.0.5'] }] })], consumer);
    expect(hosts(router.route(list, tagged('gray')))).toBe('1,2,5');
  });

  it('reads no provider URL on a warm call at 100 providers', () => {
    let reads = 0;
    const providers: Invoker[] = Array.from({ length: 100 }, (_, i) => {
      const url = URL.parse(`plexus://10.1.0.${i}:20880/demo.Greeter${i % 4 === 0 ? '?tag=gray' : ''}`);
      return {
        get url() {
          reads++;
          return url;
        },
        invoke: () => Promise.reject(new Error('not called')),
      } as Invoker;
    });
    const router = new TagRouter();
    router.notify(providers);
    const grayCall = tagged('gray');
    const plain = tagged();
    expect(router.route(providers, grayCall)).toHaveLength(25);
    expect(router.route(providers, plain)).toHaveLength(75);
    const warm = reads;
    for (let i = 0; i < 10_000; i++) {
      router.route(providers, grayCall);
      router.route(providers, plain);
    }
    expect(reads).toBe(warm);
  });

  it('keeps the rules in force when a new list holds a malformed rule', () => {
    const router = new TagRouter();
    router.setRules([rule('t', { tags: [{ name: 'gray', addresses: ['10.0.0.5'] }] })], consumer);
    let err: unknown;
    try {
      router.setRules([rule('ok', { tags: [] }), rule('bad', '{"tags": [{"name": "x"}]}')], consumer);
    } catch (e) {
      err = e;
    }
    expect(PlexusError.is(err, 'PLEXUS_ERR_ROUTER_TAG_RULE')).toBe(true);
    expect((err as Error).message).toMatch(/tag rule "bad" is malformed: tags\[0\]\.addresses is missing/);
    expect(hosts(router.route(list, tagged('gray')))).toBe('1,2,5');
  });
});

describe('parseTagRule', () => {
  const refusal = (body: unknown): string => {
    try {
      parseTagRule('t1', body as string);
    } catch (err) {
      expect(PlexusError.is(err, 'PLEXUS_ERR_ROUTER_TAG_RULE')).toBe(true);
      return (err as Error).message;
    }
    throw new Error(`parsed: ${String(body)}`);
  };

  it('reads the JSON form', () => {
    const body = parseTagRule('t', '{ "force": true, "tags": [{ "name": "gray", "addresses": ["10.0.0.1:20880", "10.0.1.*"] }] }');
    expect(body.force).toBe(true);
    expect(body.tags.map((t) => [t.name, t.addresses])).toEqual([['gray', ['10.0.0.1:20880', '10.0.1.*']]]);
  });

  it('reads the YAML block form, with flow and block address lists and comments', () => {
    const yaml = [
      '# gray release of v2',
      'force: false',
      'tags:',
      '  - name: gray',
      '    addresses: [10.0.0.1:20880, "10.0.0.2"]',
      '  - name: blue   # the old version',
      '    addresses:',
      '      - 10.0.0.3',
      "      - '10.0.0.4:20880'",
      '  -',
      '    name: empty',
      '    addresses: []',
    ].join('\n');
    const body = parseTagRule('t', yaml);
    expect(body.force).toBe(false);
    expect(body.tags.map((t) => [t.name, t.addresses])).toEqual([
      ['gray', ['10.0.0.1:20880', '10.0.0.2']],
      ['blue', ['10.0.0.3', '10.0.0.4:20880']],
      ['empty', []],
    ]);
  });

  it('gives the same tags from YAML and JSON', () => {
    const yaml = parseTagRule('t', 'tags:\n- name: gray\n  addresses:\n  - 10.0.0.1\n');
    const json = parseTagRule('t', '{"tags":[{"name":"gray","addresses":["10.0.0.1"]}]}');
    expect(yaml.tags.map((t) => [t.name, t.addresses])).toEqual(json.tags.map((t) => [t.name, t.addresses]));
  });

  it.each([
    ['an empty body', '  ', /the body is empty/],
    ['broken JSON', '{"tags": [', /not valid JSON/],
    ['a JSON list', '[1]', /line 1 .* is not "key: value"/],
    ['no tags', '{"force": false}', /"tags" is missing/],
    ['an unknown top key', '{"tags": [], "forse": true}', /unknown key "forse"/],
    ['a non-boolean force', '{"tags": [], "force": "yes"}', /"force" is not true or false/],
    ['a YAML non-boolean force', 'force: yes\ntags: []', /"force" is not true or false/],
    ['a tag that is not a mapping', '{"tags": ["gray"]}', /tags\[0\] is not a mapping/],
    ['a misspelt key in a tag', '{"tags": [{"name": "g", "adresses": []}]}', /unknown key "adresses"/],
    ['a tag without a name', '{"tags": [{"addresses": []}]}', /tags\[0\]\.name is not a tag/],
    ['a name with a space', '{"tags": [{"name": "a b", "addresses": []}]}', /name is not a tag/],
    ['a tag listed twice', '{"tags": [{"name": "a", "addresses": []}, {"name": "a", "addresses": []}]}', /listed twice/],
    ['an address that is not text', '{"tags": [{"name": "a", "addresses": [1]}]}', /holds "1", not an address/],
    ['an address with a space', '{"tags": [{"name": "a", "addresses": ["10.0.0.1 20880"]}]}', /not an address/],
    ['a YAML tab indent', 'tags:\n\t- name: a', /indented with a tab/],
    ['a YAML line outside tags', 'force: true\n  name: a', /not under "tags:"/],
    ['an unclosed YAML flow list', 'tags:\n  - name: a\n    addresses: [10.0.0.1', /does not close/],
    ['a YAML key repeated', 'tags:\n  - name: a\n    name: b', /repeats "name"/],
    ['a YAML list line without a dash', 'tags:\n  - name: a\n    addresses:\n      10.0.0.1', /does not start with "- "/],
    ['YAML tags inline', 'tags: gray', /"- name: \.\.\." items/],
  ])('refuses %s with a coded error', (_what, body, message) => {
    const text = refusal(body);
    expect(text).toContain('"t1"');
    expect(text).toMatch(message);
  });

  it('refuses bodies over the size limit and too many addresses, and non-text', () => {
    expect(refusal(`{"tags": [], "x": "${'a'.repeat(MAX_TAG_BODY)}"}`)).toMatch(/more than the 65536 allowed/);
    const many = Array.from({ length: 4097 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
    expect(refusal(JSON.stringify({ tags: [{ name: 'a', addresses: many }] }))).toMatch(/more than 4096 addresses/);
    expect(refusal(undefined)).toMatch(/not text/);
  });

  it('fuzz: edited rule bodies parse or throw the coded error, never anything else', () => {
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 8;
    };
    const seeds = ['tags:\n  - name: gray\n    addresses: [10.0.0.1, 10.0.0.2:1]\n  - name: b\n    addresses:\n      - x', '{"force":true,"tags":[{"name":"g","addresses":["a"]}]}'];
    const pieces = ['\n', ' ', '-', ':', '[', ']', ',', '"', "'", '#', '{', '}', 'tags', 'name', '\t', 'true', '\u2028'];
    let parsed = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      let body = seeds[i % 2];
      for (let j = 1 + (next() % 3); j > 0; j--) {
        const at = next() % (body.length + 1);
        body = next() % 2 ? body.slice(0, at) + pieces[next() % pieces.length] + body.slice(at) : body.slice(0, at) + body.slice(at + 1);
      }
      try {
        parseTagRule('fuzz', body);
        parsed++;
      } catch (err) {
        expect(PlexusError.is(err, 'PLEXUS_ERR_ROUTER_TAG_RULE')).toBe(true);
        refused++;
      }
    }
    expect(parsed).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});

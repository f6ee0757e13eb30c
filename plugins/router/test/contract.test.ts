import type { RouteRule } from '@plexus/kernel/spi';
import { routerContract } from '@plexus/kernel/testing';
import { ConditionRouter } from '../src/condition-router';
import { TagRouter } from '../src/tag-router';

const rule = (router: string, id: string, body: string, extra: Partial<RouteRule> = {}): RouteRule => ({
  id,
  router,
  body,
  priority: 0,
  force: false,
  enabled: true,
  ...extra,
});

routerContract('condition', () => new ConditionRouter(), {
  rules: {
    valid: () => [
      rule('condition', 'v1', 'method = sayHello => version = 2.0.0'),
      rule('condition', 'v2', '=> host != 10.0.0.3', { priority: 1 }),
      rule('condition', 'blk', 'method = sayGoodbye =>', { priority: 2 }),
    ],
    malformed: () => [
      rule('condition', 'no-arrow', 'method = sayHello'),
      rule('condition', 'two-arrows', 'a = 1 => b = 2 => c = 3'),
      rule('condition', 'empty-value', 'method = => host = 1'),
      rule('condition', 'provider-on-when', 'provider.host = 1 => '),
      rule('condition', 'empty', '   '),
      rule('condition', 'too-big', `=> host = ${'x'.repeat(20_000)}`),
      rule('tag', 'wrong-router', '=> host = 1'),
    ],
  },
});

routerContract('tag', () => new TagRouter(), {
  rules: {
    valid: () => [rule('tag', 't1', JSON.stringify({ tags: [{ name: 'a', addresses: ['10.0.0.4'] }, { name: 'zzz', addresses: ['10.0.0.5:20880'] }] }))],
    malformed: () => [
      rule('tag', 'not-json', '{ "tags": [ '),
      rule('tag', 'no-tags', '{ "force": true }'),
      rule('tag', 'typo', '{ "tags": [{ "name": "a", "adresses": ["10.0.0.1"] }] }'),
      rule('tag', 'bad-yaml', 'tags:\n  - name: a\n    addresses: [10.0.0.1'),
      rule('condition', 'wrong-router', '{ "tags": [] }'),
    ],
  },
});

import { definePlugin, type Invocation, type Invoker, type RouteRule, type Router, type URL } from '@plexus/kernel/spi';
import { RouterErrors } from './errors';
import { addressMatches } from './glob';
import { RouteCache } from './route-cache';
import { parseTagRule, type TagAssignment } from './tag-rule';

/** The attachment holding a call's tag: `Plexus.withCallOptions({ attachments: { 'plexus.tag': 'gray' } }, fn)`. */
export const TAG_ATTACHMENT = 'plexus.tag';
/** The attachment that, set to `'true'`, keeps a tagged call on its tag's providers even when there are none. */
export const TAG_FORCE_ATTACHMENT = 'plexus.tag.force';
/** Runs before the condition router (200). */
export const TAG_ROUTER_PRIORITY = 100;

const NONE: readonly Invoker[] = Object.freeze([]);

/** The routing answers for one provider list, built once per list. */
interface TagIndex {
  /** Providers by effective tag. */
  readonly groups: ReadonlyMap<string, readonly Invoker[]>;
  /** Providers without a tag. */
  readonly untagged: readonly Invoker[];
  /** What an untagged call gets: the untagged providers, or every provider when none is untagged. */
  readonly forUntagged: readonly Invoker[];
}

/**
 * Tag routing for gray releases (Dubbo's tag router). A call's tag is the attachment `plexus.tag`,
 * else the `tag` the reference (or method) is configured with; a provider's tag is the one a
 * dynamic tag rule gives its address, else the `tag` param of its URL.
 *
 * - A tagged call goes to the providers with that tag. When none has it, it goes to the untagged
 *   providers — never to providers of another tag — unless it is forced (attachment
 *   `plexus.tag.force: 'true'`, or a tag rule with `force` naming that tag): then it gets no provider.
 * - An untagged call goes to the untagged providers, or to all when every provider is tagged.
 *
 * Cost: providers are grouped by tag once per list (on the first call after `notify`) and a call
 * is two attachment reads and a map lookup, allocating nothing. Scope: one instance per reference;
 * synchronous.
 */
export class TagRouter implements Router {
  readonly priority = TAG_ROUTER_PRIORITY;
  private assignments: readonly TagAssignment[] = [];
  private forced: ReadonlySet<string> = new Set();
  private readonly cache = new RouteCache<TagIndex>();
  private notified: readonly Invoker[] | undefined;

  notify(invokers: readonly Invoker[]): void {
    this.notified = invokers;
    this.cache.reset(invokers);
  }

  /**
   * Replaces the tag rules (bodies as in `parseTagRule`). All are parsed first; a malformed one
   * throws `PLEXUS_ERR_ROUTER_TAG_RULE` and the rules in force stay. Rules apply in priority order:
   * an address listed by two tags gets the first. A tag is forced when its rule's `force` (the
   * rule's own flag or `force: true` in the body) is set.
   */
  setRules(rules: readonly RouteRule[], _consumer: URL): void {
    const parsed = rules.map((rule, i) => {
      if (rule.router !== 'tag') throw RouterErrors.WRONG_ROUTER(rule.id, rule.router, 'tag');
      return { rule, body: parseTagRule(rule.id, rule.body), i };
    });
    const active = parsed.filter((p) => p.rule.enabled !== false).sort((a, b) => (a.rule.priority ?? 0) - (b.rule.priority ?? 0) || a.i - b.i);
    const assignments: TagAssignment[] = [];
    const forced = new Set<string>();
    for (const { rule, body } of active) {
      const force = rule.force === true || body.force === true;
      for (const tag of body.tags) {
        assignments.push(tag);
        if (force) forced.add(tag.name);
      }
    }
    this.assignments = assignments;
    this.forced = forced;
    this.cache.reset(this.notified);
  }

  route(invokers: readonly Invoker[], invocation: Invocation): readonly Invoker[] {
    if (invokers.length === 0) return invokers;
    let index = this.cache.get(invokers, '');
    if (index === undefined) {
      index = this.indexOf(invokers);
      this.cache.set(invokers, '', index);
    }
    const tag = invocation.attachments[TAG_ATTACHMENT] || invocation.settings.params.tag || '';
    if (tag === '') return index.forUntagged;
    const group = index.groups.get(tag);
    if (group !== undefined) return group;
    return invocation.attachments[TAG_FORCE_ATTACHMENT] === 'true' || this.forced.has(tag) ? NONE : index.untagged;
  }

  /** The tag a provider carries: the first tag rule listing its address, else its URL's `tag`, else ''. */
  tagOf(url: URL): string {
    for (const tag of this.assignments) for (const p of tag.patterns) if (addressMatches(p, url.host, url.address)) return tag.name;
    return url.getParam('tag') ?? '';
  }

  private indexOf(invokers: readonly Invoker[]): TagIndex {
    const groups = new Map<string, Invoker[]>();
    const untagged: Invoker[] = [];
    for (const inv of invokers) {
      const tag = this.tagOf(inv.url);
      if (tag === '') untagged.push(inv);
      else {
        let group = groups.get(tag);
        if (group === undefined) groups.set(tag, (group = []));
        group.push(inv);
      }
    }
    const all = untagged.length === invokers.length ? invokers : untagged;
    return { groups, untagged: all, forUntagged: untagged.length === 0 ? invokers : all };
  }
}

export default definePlugin({
  name: '@plexus/router',
  kernel: '^0.1.0',
  extensions: [
    {
      point: 'router',
      name: 'tag',
      // The reference's (or method's) `tag` is the tag of its calls; claiming the key lets configs use it.
      keys: ['tag'],
      optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
      create: () => new TagRouter(),
    },
  ],
});

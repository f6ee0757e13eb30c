/** `@plexus/router` — the `condition` and `tag` routers. Address black/white lists are condition rules on `address`. */
export { ConditionRouter, CONDITION_ROUTER_PRIORITY, type ConditionRouterOptions } from './condition-router';
export { parseCondition, CompiledCondition, MAX_CONDITION_BODY, MAX_CONDITION_LINES, type Clause, type Condition, type Operator } from './condition-rule';
export { TagRouter, TAG_ATTACHMENT, TAG_FORCE_ATTACHMENT, TAG_ROUTER_PRIORITY } from './tag-router';
export { parseTagRule, MAX_TAG_BODY, MAX_TAGS, MAX_TAG_ADDRESSES, type TagAssignment, type TagRuleBody } from './tag-rule';
export { RouteCache, MAX_CACHED_KEYS } from './route-cache';
export { RouterErrors } from './errors';

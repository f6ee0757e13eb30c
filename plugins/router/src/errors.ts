import { defineError } from '@plexus/kernel/spi';

/** Longest part of an operator's text quoted back in an error, so a huge rule cannot flood a log line. */
const QUOTE_MAX = 80;

/** `text` as a JSON string, cut to {@link QUOTE_MAX} characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}…` : text);
}

/**
 * Errors of the routers. Each is thrown by `setRules` before any rule of the new list is applied,
 * so the rules in force before stay in force (the directory logs the error with its code).
 */
export const RouterErrors = {
  CONDITION_SYNTAX: defineError(
    'PLEXUS_ERR_ROUTER_CONDITION_SYNTAX',
    (id: string, problem: string) => `condition rule "${id}" is malformed: ${problem}`,
    'Write the rule as `[when] => [then]`, each side `key = v1,v2` or `key != v` joined by `&` (e.g. `method = find* & host != 10.0.0.1 => region = hz`); see the @plexus/router README.',
  ),
  TAG_RULE: defineError(
    'PLEXUS_ERR_ROUTER_TAG_RULE',
    (id: string, problem: string) => `tag rule "${id}" is malformed: ${problem}`,
    'Write the body as JSON (or YAML) `{ "force": false, "tags": [{ "name": "gray", "addresses": ["10.0.0.1:20880"] }] }`; see the @plexus/router README.',
  ),
  WRONG_ROUTER: defineError(
    'PLEXUS_ERR_ROUTER_WRONG_ROUTER',
    (id: string, router: string, self: string) => `rule "${id}" is written for the router "${router}" but was given to the router "${self}"`,
    'Set the `router` of the rule to the router that should read it (condition or tag).',
  ),
} as const;

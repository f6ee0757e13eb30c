import { defineError } from '../errors/plexus-error';

/**
 * Errors of dynamic rules and overrides (registry `routers`/`configurators` entries and
 * `app.rules`). A malformed entry read from a registry is logged with its code and skipped (the
 * rule it would replace stays in force); the same problem in `app.rules` is thrown before anything
 * is written.
 */
export const RuleErrors = {
  MALFORMED: defineError(
    'PLEXUS_ERR_RULE_MALFORMED',
    (entry: string, problem: string) => `Rule entry ${entry} is malformed: ${problem}`,
    'Fix or remove the entry (app.rules.remove(id), or delete it from the registry); the shapes are in docs/guide/dynamic-rules.md. Until then the rule it would replace stays in force.',
  ),
  ROUTER_MISSING: defineError(
    'PLEXUS_ERR_RULE_ROUTER_MISSING',
    (id: string, router: string, reference: string) =>
      `Rule "${id}" is for the router "${router}", which is not installed, so reference ${reference} does not apply it`,
    'Install the plugin that provides the router (the built-in ones are in @plexus/router), or fix the `router` of the rule.',
  ),
  ROUTER_STATIC: defineError(
    'PLEXUS_ERR_RULE_ROUTER_STATIC',
    (router: string, reference: string) => `The router "${router}" of reference ${reference} takes no dynamic rules (it has no setRules); its rules are ignored`,
    'Write rules only for routers that accept them (condition, tag), or give the router a setRules method.',
  ),
  REJECTED: defineError(
    'PLEXUS_ERR_RULE_REJECTED',
    (router: string, reference: string, cause: string) =>
      `The router "${router}" of reference ${reference} refused its new rules; the previous ones stay in force: ${cause}`,
    'Fix the rule body the router names (see the router plugin README for its syntax) and write the rule again.',
  ),
  NOT_FOUND: defineError(
    'PLEXUS_ERR_RULE_NOT_FOUND',
    (id: string, where: string) => `No rule with id "${id}" ${where}`,
    'List the rules with app.rules.list() (or `plexus rule ls`) and use one of their ids.',
  ),
  REGISTRY: defineError(
    'PLEXUS_ERR_RULE_REGISTRY',
    (what: string, failures: string) => `Could not ${what} in every registry: ${failures}`,
    'Check that the registries are reachable and writable, then repeat the call: writing a rule again with the same id replaces it.',
  ),
} as const;

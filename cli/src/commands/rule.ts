import * as path from 'node:path';
import { Command } from 'commander';
import { loadConfigFile, type OverrideSpec, type RouteSpec, type RuleInfo } from '@plexus/kernel';
import { CliErrors } from '../errors';
import { table } from '../format';
import { closeApp, openApp, within, type TargetOptions } from '../target';
import type { Io } from '../io';

/** Budget of one rule command against the registry, ms. */
export const RULE_TIMEOUT = 10_000;
/** Rules one file may hold: a rule file is written by a person. */
export const MAX_RULES_PER_FILE = 1000;

interface RuleTarget extends Omit<TargetOptions, 'url'> {
  json?: boolean;
}

/** The rules of a rule file, each checked for its shape; the interface comes from the command line. */
export function readRuleFile(file: string, iface: string): { routes: RouteSpec[]; overrides: OverrideSpec[] } {
  const loaded = loadConfigFile(path.resolve(file));
  const shown = path.basename(loaded.path);
  const routes: RouteSpec[] = [];
  const overrides: OverrideSpec[] = [];
  const unknown = Object.keys(loaded.data).filter((k) => k !== 'routes' && k !== 'overrides');
  if (unknown.length) throw CliErrors.RULE_FILE(shown, `unknown top-level key(s) ${unknown.map((k) => `"${k}"`).join(', ')}: expected routes and overrides`);
  for (const kind of ['routes', 'overrides'] as const) {
    const list = loaded.data[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw CliErrors.RULE_FILE(shown, `${kind} must be a list`);
    list.forEach((item: unknown, i: number) => {
      const at = loaded.positionOf([kind, i]);
      const where = `${shown}${at ? `:${at.line}` : ''} ${kind}[${i}]`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw CliErrors.RULE_FILE(where, 'must be a mapping');
      const spec = item as Record<string, unknown>;
      if (spec.interface !== undefined && spec.interface !== iface) {
        throw CliErrors.RULE_FILE(where, `names interface ${JSON.stringify(spec.interface)}, but the command is for ${iface}`);
      }
      if (kind === 'routes') routes.push({ ...spec, interface: iface } as RouteSpec);
      else overrides.push({ ...spec, interface: iface } as OverrideSpec);
    });
  }
  if (routes.length + overrides.length === 0) throw CliErrors.RULE_FILE(shown, 'holds no rules (give `routes:` or `overrides:`)');
  if (routes.length + overrides.length > MAX_RULES_PER_FILE) throw CliErrors.RULE_FILE(shown, `holds more than ${MAX_RULES_PER_FILE} rules`);
  return { routes, overrides };
}

function targetOptions(c: Command): Command {
  return c
    .option('--registry <registry>', 'the registry: local:///abs/dir, zookeeper://host:port, ... (default: the local registry in its default folder)')
    .option('--config <file>', 'use the registries of this config file');
}

export function ruleCommand(io: Io): Command {
  const rule = new Command('rule')
    .description('routing rules and overrides (weight, disabled, timeout, retries) that running consumers apply within seconds')
    .addHelpText(
      'after',
      `
A rule file (YAML or JSON):
  routes:
    - { id: find-in-hz, router: condition, rule: "method = find* => region = hz" }
  overrides:
    - { id: drain-7, address: 10.0.0.7, disabled: true }
    - { id: slow-day, timeout: 5000 }

Examples:
  $ plexus rule set demo.Greeter rules.yaml --registry zookeeper://127.0.0.1:2181
  $ plexus rule ls demo.Greeter --registry zookeeper://127.0.0.1:2181
  $ plexus rule rm demo.Greeter drain-7 --registry zookeeper://127.0.0.1:2181`,
    );
  rule.addCommand(
    targetOptions(new Command('set'))
      .description('write the rules of a file (a rule with the id of a stored one replaces it)')
      .argument('<interface>', 'the service interface the rules apply to')
      .argument('<file>', 'the rule file: routes and overrides, YAML or JSON')
      .addHelpText('after', '\nExample:\n  $ plexus rule set demo.Greeter rules.yaml --registry local:///tmp/plexus-registry')
      .action(async (iface: string, file: string, options: RuleTarget) => {
        const { routes, overrides } = readRuleFile(file, iface);
        const app = await openApp(options, false);
        try {
          const written = await within(
            (async () => {
              const out: RuleInfo[] = [];
              for (const r of routes) out.push(await app.rules.route(r));
              for (const o of overrides) out.push(await app.rules.override(o));
              return out;
            })(),
            RULE_TIMEOUT,
            'writing the rules',
          );
          for (const r of written) io.out(`set ${r.kind} ${r.id} of ${r.interface}`);
        } finally {
          await closeApp(app);
        }
      }),
  );
  rule.addCommand(
    targetOptions(new Command('ls'))
      .description('list the stored rules of an interface (or of every interface)')
      .argument('[interface]', 'the service interface (default: every interface the registry lists)')
      .option('--json', 'print a JSON array')
      .addHelpText('after', '\nExample:\n  $ plexus rule ls demo.Greeter --registry local:///tmp/plexus-registry --json')
      .action(async (iface: string | undefined, options: RuleTarget) => {
        const app = await openApp(options, false);
        try {
          const rules = await within(app.rules.list(iface), RULE_TIMEOUT, 'listing the rules');
          io.out(options.json ? JSON.stringify(rules) : formatRules(rules));
        } finally {
          await closeApp(app);
        }
      }),
  );
  rule.addCommand(
    targetOptions(new Command('rm'))
      .description('remove a stored rule by its id')
      .argument('<interface>', 'the service interface')
      .argument('<id>', 'the rule id (see `plexus rule ls`)')
      .addHelpText('after', '\nExample:\n  $ plexus rule rm demo.Greeter drain-7 --registry local:///tmp/plexus-registry')
      .action(async (iface: string, id: string, options: RuleTarget) => {
        const app = await openApp(options, false);
        try {
          const n = await within(app.rules.remove(id, iface), RULE_TIMEOUT, 'removing the rule');
          io.out(`removed ${id} of ${iface} (${n} entr${n === 1 ? 'y' : 'ies'})`);
        } finally {
          await closeApp(app);
        }
      }),
  );
  return rule;
}

/** One row per rule: id, kind, interface, what it does, and its problem if consumers refuse it. */
export function formatRules(rules: readonly RuleInfo[]): string {
  if (rules.length === 0) return 'no rules';
  return table(
    ['INTERFACE', 'ID', 'KIND', 'RULE', 'PROBLEM'],
    rules.map((r) => [r.interface, r.id, r.kind, describeRule(r), r.problem ?? '']),
  );
}

function describeRule(r: RuleInfo): string {
  if (r.route) {
    const route = r.route;
    return `${route.router}: ${route.body}${route.force ? ' (force)' : ''}${route.enabled ? '' : ' (disabled)'}`;
  }
  if (r.override) {
    const o = r.override;
    const parts = [`at ${o.address}`];
    if (o.weight !== undefined) parts.push(`weight=${o.weight}`);
    if (o.disabled !== undefined) parts.push(`disabled=${o.disabled}`);
    for (const [k, v] of Object.entries(o.service ?? {})) parts.push(`${k}=${String(v)}`);
    for (const [m, patch] of Object.entries(o.methods ?? {})) for (const [k, v] of Object.entries(patch)) parts.push(`${m}.${k}=${String(v)}`);
    if (!o.enabled) parts.push('(disabled)');
    return parts.join(' ');
  }
  return r.url;
}
